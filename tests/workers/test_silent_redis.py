"""A Redis server that goes silent (frozen, or cut off): a read fails within the command timeout,
the next ones fail at once for a moment instead of each waiting it out again, and everything works
again once the server answers (a relay in front of the tests' Redis plays the silent server)."""

import time
import urllib.parse

import pytest
import redis

from tests.support.relay import Relay
from tests.support.servers import REDIS_URI
from workers.common import fail_fast
from workers.common.fail_fast import FailFast, StoreUnavailable
from workers.common.redis_clients import connect
from workers.common.storage import DEFAULT_CONNECT_TIMEOUT, DEFAULT_SOCKET_TIMEOUT, Reads

pytestmark = pytest.mark.fast


@pytest.fixture
def silent_server():
    server = urllib.parse.urlsplit(REDIS_URI)
    relay = Relay(server.hostname, server.port or 6379).start()
    yield relay
    relay.close()


@pytest.fixture
def client(silent_server):
    uri = urllib.parse.urlsplit(REDIS_URI)._replace(netloc=f"127.0.0.1:{silent_server.port}").geturl()
    clients = connect(
        uri,
        socket_timeout=DEFAULT_SOCKET_TIMEOUT,
        socket_connect_timeout=DEFAULT_CONNECT_TIMEOUT,
        decode_responses=True,
    )
    yield clients.primary
    clients.close()


def timed(call):
    start = time.monotonic()
    try:
        return call(), time.monotonic() - start
    except Exception as exc:
        return exc, time.monotonic() - start


@pytest.mark.parametrize("silence", ["freeze", "cut"])
def test_a_silent_server_costs_one_timeout_then_fails_fast_until_it_answers(client, silent_server, silence, prefix):
    key = f"{prefix}silent"
    client.set(key, "1")
    for _ in range(3):  # several pooled connections, all on the server about to fall silent
        client.pipeline().get(key).get(key).execute()
    getattr(silent_server, silence)()

    first, waited = timed(lambda: client.get(key))
    assert isinstance(first, redis.exceptions.TimeoutError) and waited <= DEFAULT_SOCKET_TIMEOUT + 0.3, (first, waited)
    fast = [timed(lambda: client.get(key)) for _ in range(5)]
    assert all(isinstance(error, StoreUnavailable) and took < 0.05 for error, took in fast), fast

    silent_server.thaw()
    time.sleep(fail_fast.FAIL_FAST_FOR)
    assert timed(lambda: client.get(key))[0] == "1"
    assert client.pipeline().get(key).execute() == ["1"]


def test_a_pause_ends_once_the_sentinels_name_another_primary():
    class SentinelPool:
        master_address = ("10.0.0.1", 6379)
        asked = 0

        def get_master_address(self):
            self.asked += 1
            return ("10.0.0.2", 6379) if self.asked > 1 else self.master_address

        def disconnect(self, inuse_connections):
            pass

    def timing_out():
        raise TimeoutError("silent")

    breaker = FailFast(pause=60)
    breaker.pool = SentinelPool()
    with pytest.raises(TimeoutError):
        breaker.call_with_retry(timing_out, lambda error: None)
    with pytest.raises(StoreUnavailable):  # the sentinels still name the silent one
        breaker.call_with_retry(lambda: "answered", lambda error: None)
    time.sleep(fail_fast.MASTER_CHECK_INTERVAL)
    assert breaker.call_with_retry(lambda: "answered", lambda error: None) == "answered"  # they name another


def test_reads_go_to_the_replica_while_the_primary_fails_fast(client, silent_server, redis_client, prefix):
    key = f"{prefix}replica-read"
    redis_client.set(key, "from the replica")
    reads = Reads(client, replica=redis_client)
    silent_server.freeze()
    assert reads(lambda c: c.get(key)) == "from the replica"  # after the primary's timeout
    value, took = timed(lambda: reads(lambda c: c.get(key)))
    assert value == "from the replica" and took < 0.05
