"""compose/k8s/rabbitmq/: a RabbitMQ node of this machine's installation (Debian's 3.10; compose and
Kubernetes ship 4.2) booted with the definitions and a users file, as compose and Kubernetes boot
theirs: the `travel` vhost is quorum by default, the RPC queues' policy is in force, the dead-letter
queue is bound, the user logs in; and rabbitmq_prometheus serves the names the dashboard reads."""

import json
import shutil
import time
import urllib.request

import kombu
import pytest

from devstack.isolation import free_port
from devstack.rabbitmq_cluster import RabbitNode, _chown_tree
from tests.deploy.test_monitoring import RABBITMQ_METRICS
from tests.support.processes import ROOT

DEFINITIONS = ROOT / "compose" / "k8s" / "rabbitmq" / "definitions.json"
USERS = {
    "users": [{"name": "travel-boot", "password": "boot-test-password", "tags": ["administrator"]}],
    "permissions": [{"user": "travel-boot", "vhost": "travel", "configure": ".*", "write": ".*", "read": ".*"}],
}


@pytest.fixture(scope="module")
def node():
    if shutil.which("rabbitmq-server") is None:
        pytest.fail("rabbitmq-server is not installed (Debian: apt-get install rabbitmq-server)")
    node = RabbitNode()
    definitions = node.dir / "definitions"
    definitions.mkdir()
    shutil.copy(DEFINITIONS, definitions / "10-travel.json")  # the names the k8s volume gives them
    (definitions / "20-users.json").write_text(json.dumps(USERS))
    node.prometheus_port = free_port()
    with open(node.dir / "rabbitmq.conf", "a") as conf:
        for line in (ROOT / "compose" / "k8s" / "rabbitmq" / "rabbitmq.conf").read_text().splitlines():
            if line.startswith("definitions.") and not line.startswith("definitions.local.path"):
                conf.write(line + "\n")  # as the StatefulSet's nodes load them
        conf.write(f"definitions.local.path = {definitions}\n")
        conf.write(f"prometheus.tcp.port = {node.prometheus_port}\n")
    (node.dir / "enabled_plugins").write_text((ROOT / "compose" / "k8s" / "rabbitmq" / "enabled_plugins").read_text())
    _chown_tree(node.dir)
    try:
        node.start()
        yield node
    finally:
        node.close()


def test_the_definitions_load_at_boot(node):
    vhosts = node.ctl("list_vhosts", "name", "default_queue_type", "--no-table-headers", "-q")
    assert "travel\tquorum" in vhosts.splitlines()
    (policy,) = json.loads(node.ctl("list_policies", "-p", "travel", "--formatter", "json", "-q"))
    assert policy["name"] == "rpc-requests" and policy["pattern"] == "^rpc-"
    assert json.loads(policy["definition"])["overflow"] == "reject-publish"
    queues = node.ctl("list_queues", "-p", "travel", "name", "type", "--no-table-headers", "-q")
    assert "rpc.dead-letters\tquorum" in queues.splitlines()
    users = node.ctl("list_users", "--no-table-headers", "-q")
    assert "travel-boot" in users and "guest" not in users  # no default user beside the definitions' own


def test_the_users_file_logs_in_and_a_queue_gets_the_policy(node):
    uri = node.uri_for(vhost="travel", user="travel-boot", password="boot-test-password")
    with kombu.Connection(uri) as connection:
        kombu.Queue("rpc-boot_service", durable=True)(connection.channel()).declare()
    listed = node.ctl("list_queues", "-p", "travel", "name", "type", "policy", "--no-table-headers", "-q")
    assert "rpc-boot_service\tquorum\trpc-requests" in listed.splitlines()


def test_rabbitmq_prometheus_serves_the_names_the_dashboard_reads(node):
    base = f"http://127.0.0.1:{node.prometheus_port}"
    totals = urllib.request.urlopen(f"{base}/metrics", timeout=10).read().decode()
    query = "vhost=travel&family=queue_coarse_metrics&family=queue_consumer_count"
    deadline = time.monotonic() + 30  # queue figures appear with the first statistics emission (5 s)
    while True:
        detailed = urllib.request.urlopen(f"{base}/metrics/detailed?{query}", timeout=10).read().decode()
        if "rabbitmq_detailed_queue_messages_ready{" in detailed or time.monotonic() > deadline:
            break
        time.sleep(1)
    for name, labels in RABBITMQ_METRICS.items():
        text = detailed if name.startswith("rabbitmq_detailed_") else totals
        lines = [line for line in text.splitlines() if line.startswith(name + "{") or line.startswith(name + " ")]
        assert lines, f"{name} is not served"
        for label in labels:
            assert all(f"{label}=" in line for line in lines), (name, label)
    assert 'queue="rpc.dead-letters"' in detailed
