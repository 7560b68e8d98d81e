"""The GETs of one turn of eventlet's hub share one round trip to Redis
(workers/runtime/shared_gets.py), and each caller still gets its own answer or its own error.

Runs under `nameko test` (eventlet monkey-patched), against the test Redis.
"""

import eventlet
import pytest
import redis
from redis import exceptions as redis_errors

from workers.common.redis_clients import connect
from workers.runtime import shared_gets as module
from workers.runtime.shared_gets import SharedGets, shared_gets

pytestmark = pytest.mark.eventlet  # tests/conftest.py says why


@pytest.fixture
def client(redis_uri):
    made = redis.Redis.from_url(redis_uri, decode_responses=True, socket_timeout=5)
    yield made
    made.close()


@pytest.fixture
def keys(client, redis_prefix):
    """Ten keys of this test's own, each holding its own name; deleted afterwards."""
    names = [f"{redis_prefix}shared-gets:{n}" for n in range(10)]
    client.mset({name: name for name in names})
    yield names
    client.delete(*names)


@pytest.fixture
def pipelines(monkeypatch):
    """The batches sent as pipelines: the keys of each, in order."""
    sent, run = [], SharedGets._pipeline

    def recording(self, batch):
        sent.append([batch.key, *(key for key, _ in batch.followers)])
        return run(self, batch)

    monkeypatch.setattr(SharedGets, "_pipeline", recording)
    return sent


def get_together(gets, keys):
    """GET every key, each from a greenthread of its own started in the same turn: what each got
    (its value, or the exception it raised)."""

    def get(key):
        try:
            return gets.get(key)
        except Exception as exc:
            return exc

    threads = [eventlet.spawn(get, key) for key in keys]
    return [thread.wait() for thread in threads]


def test_the_gets_of_one_turn_leave_in_one_pipeline_and_each_gets_its_own_value(client, keys, pipelines):
    gets = shared_gets(client)
    assert isinstance(gets, SharedGets)  # a green process with tracing off

    assert get_together(gets, [*keys, keys[0] + ":missing"]) == [*keys, None]
    assert pipelines == [[*keys, keys[0] + ":missing"]]


def test_a_get_with_no_company_goes_alone(client, keys, pipelines):
    gets = SharedGets(client)
    assert [gets.get(key) for key in keys[:3]] == keys[:3]  # one after the other: never together
    assert pipelines == []


def test_a_commands_own_error_goes_to_its_caller_only(client, keys, redis_prefix):
    wrong_type = f"{redis_prefix}shared-gets:a-list"
    client.rpush(wrong_type, "x")
    try:
        got = get_together(SharedGets(client), [keys[0], wrong_type, keys[1]])
    finally:
        client.delete(wrong_type)
    assert got[0] == keys[0] and got[2] == keys[1]
    assert isinstance(got[1], redis_errors.ResponseError) and "WRONGTYPE" in str(got[1])


def test_a_lost_connection_fails_every_get_of_the_batch_and_none_waits_for_ever():
    unreachable = connect("redis://127.0.0.1:1/0", socket_connect_timeout=1).primary
    try:
        with eventlet.Timeout(5):
            got = get_together(SharedGets(unreachable), ["a", "b", "c"])
    finally:
        unreachable.close()
    assert [type(exc) for exc in got] == [redis_errors.ConnectionError] * 3


def test_the_gets_waiting_for_a_leader_that_was_killed_fail_rather_than_wait(client, keys):
    gets = SharedGets(client)
    leader = eventlet.spawn(gets.get, keys[0])
    follower = eventlet.spawn(lambda: pytest.raises(redis_errors.ConnectionError, gets.get, keys[1]))
    eventlet.sleep(0)  # both have run: the leader yielded, collecting, and the follower joined it
    leader.kill()
    with eventlet.Timeout(5):
        assert "abandoned" in str(follower.wait().value)
    assert gets.get(keys[2]) == keys[2]  # the next turn starts a batch of its own


def test_with_tracing_on_every_get_goes_alone_with_its_own_span(client, monkeypatch):
    monkeypatch.setattr(module, "TRACING", True)
    assert shared_gets(client) is client
