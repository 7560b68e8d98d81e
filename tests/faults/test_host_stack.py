"""The whole system on hosts of its own (devstack.hosts.HostStack), started once for the module
(about 20 s here, most of it RabbitMQ booting): what every fault drill stands on."""

import os
import shutil
import socket
import tempfile
import time
import uuid

import psutil
import pytest

from devstack.hosts import NET_TICKTIME, HostStack
from devstack.http import Client
from devstack.layout import SERVICE_NAMES

pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
def hosts():
    """FAULTS_KEEP_LOGS=DIR keeps every node's files and every process's log in DIR."""
    kept = os.environ.get("FAULTS_KEEP_LOGS")
    directory = kept or tempfile.mkdtemp(prefix="host-stack-")  # not pytest's tmp_path: rabbitmq must reach it
    started = time.monotonic()
    with HostStack(directory) as made:
        print(f"HostStack up in {time.monotonic() - started:.1f} s")
        yield made
    if not kept:
        shutil.rmtree(directory, ignore_errors=True)


def create_and_read_airport(url):
    client = Client(url, timeout=15)
    name = f"hosts-{uuid.uuid4().hex[:8]}"
    created = client.post("/airports", {"name": name})
    assert created.status == 201, created.describe()
    read = client.get(f"/airports/{created.json()['id']}")
    assert read.status == 200 and read.json()["name"] == name, read.describe()


def test_the_rabbitmq_nodes_run_clustered_on_their_hosts_as_configured(hosts):
    assert hosts.rabbit_cluster.running_nodes() == ["rabbit@n1", "rabbit@n2", "rabbit@n3"]
    for host, node in hosts.rabbit.items():
        assert node.pid in hosts.net.pids(host)
    n2 = hosts.rabbit["n2"]
    assert "pause_minority" in n2.ctl("eval", "application:get_env(rabbit, cluster_partition_handling).")
    assert f"{{ok,{NET_TICKTIME}}}" in n2.ctl("eval", "application:get_env(kernel, net_ticktime).")
    assert "quorum" in n2.ctl("list_vhosts", "name", "default_queue_type", "--no-table-headers")


def test_redis_has_its_primary_on_n1_and_a_sentinel_on_each_node_host(hosts):
    assert hosts.redis_primary() == "n1"
    for host in ("n1", "n2", "n3"):
        assert {hosts.redis_pid(host), hosts.sentinel_pid(host)} <= set(hosts.net.pids(host))
    assert hosts.worker_env["REDIS_URI"] == "redis+sentinel://n1:26379,n2:26379,n3:26379/travel/0"
    assert hosts.worker_env["AMQP_URI"].split(";")[0] == "amqp://guest:guest@n1:5672/travel"


def test_a_create_and_a_read_work_through_each_gateway_on_its_host(hosts):
    assert set(hosts.gateway_urls) == {"asgi", "wsgi"}
    for kind, url in hosts.gateway_urls.items():
        host = hosts.gateway_hosts[kind]
        assert url == f"http://{hosts.net.address(host)}:8000"
        create_and_read_airport(url)
    for host, worker in hosts.workers.items():
        assert worker.pid in hosts.net.pids(host)


def test_the_queues_leaders_move_to_the_host_asked_for(hosts):
    for host in ("n2", "n1"):
        hosts.move_leaders(host)
        leaders = hosts.leaders()
        assert {leaders.get(f"rpc-{service}") for service in SERVICE_NAMES} == {host}
    create_and_read_airport(hosts.gateway_urls["asgi"])


def test_a_frozen_rabbitmq_node_stays_stopped_until_thawed(hosts):
    node = hosts.rabbit["n3"]
    hosts.faults.freeze(node.pid)
    try:
        time.sleep(1)
        assert psutil.Process(node.pid).status() == psutil.STATUS_STOPPED
    finally:
        hosts.faults.thaw(node.pid)
    assert psutil.Process(node.pid).status() != psutil.STATUS_STOPPED
    hosts.rabbit_cluster.wait_running(timeout=60)
    create_and_read_airport(hosts.gateway_urls["asgi"])


def test_a_killed_rabbitmq_node_restarts_with_its_new_pid(hosts):
    node = hosts.rabbit["n3"]
    old = node.pid
    hosts.faults.kill(old)
    hosts.restart_rabbit("n3")
    assert node.pid not in (None, old) and node.pid in hosts.net.pids("n3")
    assert hosts.rabbit_cluster.running_nodes() == ["rabbit@n1", "rabbit@n2", "rabbit@n3"]
    create_and_read_airport(hosts.gateway_urls["wsgi"])


def test_a_node_host_cut_off_pauses_its_rabbitmq_node_and_loses_the_redis_primary_until_healed(hosts):
    """The harness's point: a partition the nodes see. n1 cut off from every other host: its
    RabbitMQ node, a minority, pauses (pause_minority: its port closes) once net_ticktime (5 s)
    passes; the sentinels on n2 and n3 promote another Redis primary while n1's own sentinel, cut
    off, still names n1. Healed, n1 rejoins with nothing restarted and every sentinel agrees."""
    others = ["n2", "n3", *hosts.worker_hosts, *hosts.gateway_hosts.values()]
    hosts.faults.partition("n1", others)
    try:
        seconds = times_until(
            {
                "n1 paused": lambda: not port_open(hosts.net.address("n1"), 5672),
                "the Redis primary moved": lambda: hosts.redis_primary() not in ("n1", None),
            },
            timeout=40,
        )
        views = hosts.redis_views()
        assert views["n1"] == "n1" and views["n2"] == views["n3"] != "n1", views
    finally:
        hosts.faults.heal()
    print(", ".join(f"{event} after {after:.1f} s" for event, after in seconds.items()))
    hosts.rabbit_cluster.wait_running(timeout=120)
    times_until({"the sentinels agree": lambda: set(hosts.redis_views().values()) == {hosts.redis_primary()}}, 30)


def port_open(address, port):
    try:
        socket.create_connection((address, port), timeout=0.5).close()
        return True
    except OSError:
        return False


def times_until(conditions, timeout):
    """{event: seconds from now until its condition first held}; fails if one does not within `timeout`."""
    started, seen = time.monotonic(), {}
    while len(seen) < len(conditions):
        for event, condition in conditions.items():
            if event not in seen and condition():
                seen[event] = time.monotonic() - started
        missing = set(conditions) - set(seen)
        assert not missing or time.monotonic() - started < timeout, f"{missing}: not within {timeout} s"
        time.sleep(0.2)
    return seen
