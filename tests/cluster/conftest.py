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
from tests.conftest import REDIS_URI
from tests.support.processes import nameko_run, start_gateway, wait_for_services, worker_env

SERVICES = ["airports_service", "trips_service", "greeting_service"]


def _can_run_nodes():
    return shutil.which("rabbitmq-server") and os.geteuid() == 0


@pytest.fixture(scope="session")
def rabbit_cluster():
    if not _can_run_nodes():
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


class ClusterStack:
    """The three services in one `nameko run` and gateways, all on the cluster's AMQP_URI list, on
    a vhost of the session's own (default queue type quorum)."""

    def __init__(self, cluster, prefix):
        self.cluster = cluster
        self.vhost = cluster.add_vhost(f"travel-test-cluster-{uuid.uuid4().hex[:8]}")
        self.amqp = cluster.uri_for(self.vhost)
        self.env = worker_env(self.amqp, REDIS_URI, prefix, TRIP_RELEASE_RETRY=1)
        self.gateways = []
        self.workers = nameko_run(self.env, name="cluster-workers")
        try:
            wait_for_services(self.amqp, SERVICES, self.workers)
        except BaseException:
            self.close()
            raise

    def gateway(self, **settings):
        # INFO with CLUSTER_KEEP_LOGS: the gateway's connects and republishes, to see a kill's course
        level = "INFO" if os.environ.get("CLUSTER_KEEP_LOGS") else "WARNING"
        env = {**self.env, "LOG_LEVEL": level, **{k: str(v) for k, v in settings.items()}}
        process, url = start_gateway("asgi", env)
        self.gateways.append(process)
        return url

    def close(self):
        kept = os.environ.get("CLUSTER_KEEP_LOGS")  # a directory: the processes' logs are copied there
        named = [(f"gateway-{n}", p) for n, p in enumerate(self.gateways)] + [("workers", self.workers)]
        for name, process in named:
            process.stop()
            if kept:
                Path(kept, f"{self.vhost}-{name}.log").write_text(process.output())
            process.close()
        self.cluster.delete_vhost(self.vhost)


@pytest.fixture(scope="session")
def cluster_stack(rabbit_cluster, redis_prefix):
    stack = ClusterStack(rabbit_cluster, f"{redis_prefix}cluster:")
    try:
        yield stack
    finally:
        stack.close()


@pytest.fixture(scope="session")
def cluster_gateway(cluster_stack):
    return cluster_stack.gateway()
