"""What the harness runs by default and on a cluster: the shipped log level, quorum queues for a
list of brokers, and the Redis tier's ports (a Sentinel set's are asked of the sentinels)."""

import pytest

from bench.cli import parser, stack_options
from bench.measure import redis_ports
from bench.targets import BenchTargets, Options

pytestmark = pytest.mark.fast

NODES = "amqp://guest:guest@127.0.0.1:5701;amqp://guest:guest@127.0.0.1:5702;amqp://guest:guest@127.0.0.1:5703"


def options(*argv):
    return stack_options(parser().parse_args(list(argv)), {})


def test_the_gateways_log_as_shipped_unless_told():
    bench_targets = BenchTargets(["asgi"], Options())
    try:
        assert "LOG_LEVEL" not in bench_targets.gateway_env()  # the gateway's own default, INFO
    finally:
        bench_targets.close()
    bench_targets = BenchTargets(["asgi"], Options(gateway_env={"LOG_LEVEL": "WARNING"}))
    try:
        assert bench_targets.gateway_env()["LOG_LEVEL"] == "WARNING"
    finally:
        bench_targets.close()


def test_a_list_of_brokers_gets_quorum_queues_and_one_broker_the_brokers_default():
    assert options("--amqp-base", NODES).queue_type == "quorum"
    assert options("--amqp-base", "amqp://guest:guest@127.0.0.1:5672").queue_type is None
    assert options("--amqp-base", NODES, "--queue-type", "classic").queue_type == "classic"


def test_the_redis_tier_of_a_plain_uri_is_its_port():
    assert redis_ports("redis://127.0.0.1:6380/0") == [6380]
    assert redis_ports("redis://127.0.0.1/0") == [6379]
