"""The cluster tests (`pytest -m cluster tests/cluster`): one 3-node RabbitMQ cluster of the
session's own (devstack.rabbitmq_cluster, vhost `travel` with default queue type quorum), the
workers and an ASGI gateway on it, reused by every test. TEST_CLUSTER_STATE=.run/cluster/state.json
reuses the cluster `scripts/cluster up` started instead (faster when iterating; its nodes are
killed and restarted like the session's own)."""

import json
import os
import shutil
import uuid
from pathlib import Path

import pytest

from devstack.rabbitmq_cluster import RabbitCluster
from tests.support.processes import stack_on
from tests.support.servers import REDIS_URI


@pytest.fixture(scope="session")
def rabbit_cluster():
    if not (shutil.which("rabbitmq-server") and os.geteuid() == 0):
        pytest.skip("the cluster tests start RabbitMQ nodes: they need rabbitmq-server and root")
    state = os.environ.get("TEST_CLUSTER_STATE")
    if state:
        cluster = RabbitCluster.attach(json.loads(open(state).read())["rabbitmq"])
        yield cluster
        return
    cluster = RabbitCluster(3).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def cluster_vhost(rabbit_cluster):
    """The session's vhost on the cluster (default queue type quorum)."""
    vhost = rabbit_cluster.add_vhost(f"travel-test-cluster-{uuid.uuid4().hex[:8]}")
    yield vhost
    rabbit_cluster.delete_vhost(vhost)


@pytest.fixture(scope="session")
def cluster_stack(rabbit_cluster, cluster_vhost, redis_prefix):
    """The three services in one `nameko run` on the cluster's AMQP_URI list; gateways come with
    `add_gateway`. CLUSTER_KEEP_LOGS=DIR keeps every process's log in DIR/<vhost>/, the gateways'
    at INFO (their connects and republishes: a kill's course)."""
    kept = os.environ.get("CLUSTER_KEEP_LOGS")
    log_dir = Path(kept, cluster_vhost) if kept else None
    if log_dir:
        log_dir.mkdir(parents=True, exist_ok=True)
    with stack_on(
        rabbit_cluster.uri_for(cluster_vhost),
        REDIS_URI,
        f"{redis_prefix}cluster:",
        worker_extra={"TRIP_RELEASE_RETRY": 1},
        gateway_extra={"LOG_LEVEL": "INFO" if kept else "WARNING"},
        gateways=(),
        kill_workers=False,
        log_dir=log_dir,
    ) as stack:
        yield stack


@pytest.fixture(scope="session")
def cluster_gateway(cluster_stack):
    return cluster_stack.add_gateway("asgi").url


@pytest.fixture(scope="session")
def cluster_wsgi_gateway(cluster_stack):
    """The WSGI gateway on the cluster, 32 threads (and as many links) as in the measured drill."""
    return cluster_stack.add_gateway("wsgi", THREADS=32).url
