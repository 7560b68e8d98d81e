"""compose/docker-compose.yml's `cluster` profile, validated offline like the rest: three RabbitMQ
nodes clustered by name with quorum queues by default, Redis with a primary, two replicas and three
sentinels, and the AMQP_URI / REDIS_URI forms that point the apps at them."""

import re

import pytest
import yaml

from gateway.settings import Settings
from tests.deploy.test_compose import COMPOSE_DIR, COMPOSE_FILE, compose_implementations, run_config

NODES = ["rabbitmq-1", "rabbitmq-2", "rabbitmq-3"]
REDIS = ["redis-primary", "redis-replica-1", "redis-replica-2", "sentinel-1", "sentinel-2", "sentinel-3"]
CLUSTER_AMQP_URI = ";".join(f"amqp://guest:guest@{node}:5672/travel" for node in NODES)
CLUSTER_REDIS_URI = "redis+sentinel://sentinel-1:26379,sentinel-2:26379,sentinel-3:26379/travel/0"


@pytest.fixture(scope="module")
def resolved(tmp_path_factory):
    implementations = compose_implementations()
    if not implementations:
        pytest.fail("docker-compose is not installed (Debian: apt-get install docker-compose)")
    env_file = tmp_path_factory.mktemp("compose") / "cluster.env"
    env_file.write_text(f"AMQP_URI='{CLUSTER_AMQP_URI}'\nREDIS_URI='{CLUSTER_REDIS_URI}'\n")
    command = [*implementations[0], "--profile", "cluster"]
    result = run_config(command, env_file)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_the_profile_adds_the_cluster_and_nothing_else_by_default():
    source = yaml.safe_load(COMPOSE_FILE.read_text())
    profiled = {name for name, service in source["services"].items() if "cluster" in service.get("profiles", [])}
    assert profiled == {*NODES, *REDIS}
    assert all(source["services"][name]["profiles"] == ["cluster"] for name in profiled)


def test_three_rabbitmq_nodes_form_one_cluster_with_quorum_queues(resolved):
    services = resolved["services"]
    cookies = {services[node]["environment"]["RABBITMQ_ERLANG_COOKIE"] for node in NODES}
    assert len(cookies) == 1, "the nodes must share one Erlang cookie"
    for node in NODES:
        assert services[node]["hostname"] == node  # the node name rabbit@<hostname> the peers list
        assert "RABBITMQ_DEFAULT_VHOST" not in services[node]["environment"]  # the definitions make `travel`
        mounts = [v if isinstance(v, str) else f"{v['source']}:{v['target']}" for v in services[node]["volumes"]]
        assert any("rabbitmq-cluster.conf" in m and "/etc/rabbitmq/conf.d/" in m for m in mounts), mounts
        assert "healthcheck" in services[node]
    conf = dict(
        line.split(" = ", 1)
        for line in (COMPOSE_DIR / "rabbitmq-cluster.conf").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert conf["cluster_formation.peer_discovery_backend"] == "classic_config"
    assert sorted(v for k, v in conf.items() if k.startswith("cluster_formation.classic_config.nodes.")) == [
        f"rabbit@{node}" for node in NODES
    ]
    assert conf["default_queue_type"] == "quorum"
    assert conf["cluster_partition_handling"] == "pause_minority"


def test_redis_has_a_primary_two_replicas_and_three_sentinels(resolved):
    services = resolved["services"]
    assert "--replicaof" not in services["redis-primary"]["command"]
    for replica in ("redis-replica-1", "redis-replica-2"):
        command = services[replica]["command"]
        assert command[command.index("--replicaof") + 1 :][:2] == ["redis-primary", "6379"]
    for sentinel in ("sentinel-1", "sentinel-2", "sentinel-3"):
        script = " ".join(services[sentinel]["command"])
        assert "sentinel monitor travel redis-primary 6379 2" in script  # a quorum of 2 of 3
        assert "redis-sentinel" in script and "healthcheck" in services[sentinel]


def test_the_apps_take_the_multi_address_uris(resolved):
    services = resolved["services"]
    for app in ("airports", "trips", "greeting", "gateway"):
        assert services[app]["environment"]["AMQP_URI"] == CLUSTER_AMQP_URI
    for worker in ("airports", "trips", "greeting"):
        assert services[worker]["environment"]["REDIS_URI"] == CLUSTER_REDIS_URI
    settings = Settings.from_env({"AMQP_URI": CLUSTER_AMQP_URI})
    assert [re.sub(r"//.*@", "//", uri) for uri in settings.amqp_uris] == [
        f"amqp://{node}:5672/travel" for node in NODES
    ]
    assert settings.connections == 3  # a link per node
