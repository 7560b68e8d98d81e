"""The article's claims about concurrency, scaling and versions, with short sleeps.

Each test has a vhost of its own, so only the instances it starts answer.
"""

import time

import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from tests.support.broker import queue_consumers
from tests.support.processes import nameko_run, worker_env
from tests.support.servers import amqp_uri

DELAY = 0.5


@pytest.fixture
def greeting(fresh_vhost, redis_prefix):
    """Start slow greeting_service instances on a vhost of their own."""
    amqp = amqp_uri(fresh_vhost)
    started = []

    def start(version="1", max_workers=10):
        env = worker_env(
            amqp,
            "redis://unused",
            redis_prefix,
            GREETING_DELAY=DELAY,
            GREETING_VERSION=version,
            MAX_WORKERS=max_workers,
        )
        process = nameko_run(env, modules=["tests.services.slow_greeting"], name=f"greeting-v{version}")
        started.append(process)
        return process

    yield amqp, start
    for process in started:  # killed: how nameko stops is not what these tests are about (seconds each)
        process.kill()
        process.close()


def call_concurrently(amqp, count):
    """The article's snippet: `call_async` `count` times, then wait for every result."""
    with ClusterRpcProxy({"AMQP_URI": amqp}, timeout=30) as rpc:
        start = time.monotonic()
        replies = [rpc.greeting_service.hello.call_async(name=str(i)) for i in range(count)]
        results = [reply.result() for reply in replies]
        return time.monotonic() - start, results


def started(amqp, start, *versions):
    """Start one instance per version; return once every one of them consumes the service queue."""
    processes = [start(version) for version in versions]
    vhost = amqp.rsplit("/", 1)[1]
    deadline = time.monotonic() + 30
    while queue_consumers(vhost).get("rpc-greeting_service", 0) < len(versions):
        crashed = [p.output()[-2000:] for p in processes if not p.running()]
        assert not crashed and time.monotonic() < deadline, crashed or "instances did not start"
        time.sleep(0.2)
    return processes


def test_five_calls_take_one_sleep(greeting):
    amqp, start = greeting
    started(amqp, start, "1")
    elapsed, results = call_concurrently(amqp, 5)
    assert results == [f"Hello, {i}!" for i in range(5)]
    assert DELAY <= elapsed < 2 * DELAY


def test_twenty_calls_on_ten_workers_take_two_rounds(greeting):
    amqp, start = greeting
    started(amqp, start, "1")
    elapsed, results = call_concurrently(amqp, 20)
    assert results == [f"Hello, {i}!" for i in range(20)]
    assert 2 * DELAY <= elapsed < 3 * DELAY


def test_a_second_instance_brings_it_back_to_one_round(greeting):
    amqp, start = greeting
    started(amqp, start, "1", "1")
    elapsed, results = call_concurrently(amqp, 20)
    assert results == [f"Hello, {i}!" for i in range(20)]
    assert DELAY <= elapsed < 2 * DELAY


def test_two_versions_answer_side_by_side(greeting):
    amqp, start = greeting
    started(amqp, start, "1", "2")
    _, results = call_concurrently(amqp, 10)
    assert {r.endswith("(version 2)") for r in results} == {True, False}
    assert all(r.startswith(f"Hello, {i}!") for i, r in enumerate(results))
