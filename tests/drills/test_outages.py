"""The broker and Redis go away and come back: quick 503s meanwhile, service again within 15 s
after, with nothing restarted by hand. Both are private copies the test starts and stops."""

import pytest

from drills.scenarios import outage
from tests.support.private import RedisServer

pytestmark = pytest.mark.long  # scripts/test --long


@pytest.fixture
def redis_server():
    server = RedisServer().start()
    yield server
    server.close()


def test_a_broker_outage(drill_stack, rabbit):
    stack = drill_stack(amqp=rabbit.uri, gateways=("asgi", "wsgi"))
    report = outage([stack.url("asgi"), stack.url("wsgi")], rabbit.stop, rabbit.start, what="broker")
    assert report.passed, str(report)
    assert all(process.running() for process in stack.workers)


def test_a_redis_outage(drill_stack, redis_server):
    stack = drill_stack(redis_uri=redis_server.uri, gateways=("asgi", "wsgi"))
    report = outage([stack.url("asgi"), stack.url("wsgi")], redis_server.stop, redis_server.start, what="redis")
    assert report.passed, str(report)
    assert all(process.running() for process in stack.workers)
