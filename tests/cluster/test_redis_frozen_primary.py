"""A frozen Redis primary (SIGSTOP) of a Sentinel set of the test's own, through the workers' own
clients (workers/common/redis_clients.py, with the store's timeouts): a write fails within the
command timeout, the next ones fail at once, and writes go to the new primary within moments of
the sentinels promoting it."""

import shutil
import signal
import tempfile
import time

import pytest
import redis

from devstack.redis_sentinel import RedisSentinelSet
from workers.common.fail_fast import StoreUnavailable
from workers.common.redis_clients import connect
from workers.common.storage import DEFAULT_CONNECT_TIMEOUT, DEFAULT_SOCKET_TIMEOUT

pytestmark = pytest.mark.cluster

FOLLOWS_WITHIN = 2.0  # seconds from the promotion to the first write the new primary takes


@pytest.fixture
def sentinel_set():
    base_dir = tempfile.mkdtemp(prefix="redis-frozen-test-")
    made = RedisSentinelSet(base_dir).start()
    yield made
    made.stop()
    shutil.rmtree(base_dir, ignore_errors=True)


def test_writes_follow_the_new_primary_soon_after_a_frozen_one_is_replaced(sentinel_set):
    clients = connect(
        sentinel_set.uri, socket_timeout=DEFAULT_SOCKET_TIMEOUT, socket_connect_timeout=DEFAULT_CONNECT_TIMEOUT
    )
    writes = []  # (started, took, outcome) from the freeze on
    frozen = sentinel_set.primary()
    try:
        for n in range(3):  # pooled connections on the primary about to freeze
            clients.primary.set(f"frozen:{n}", n)
        sentinel_set.nodes[frozen].signal(signal.SIGSTOP)
        start = time.monotonic()
        promoted_at = None
        while time.monotonic() - start < 20:
            began = time.monotonic()
            try:
                clients.primary.set("frozen:after", began)
                outcome = "ok"
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                outcome = type(exc).__name__
            writes.append((began - start, time.monotonic() - began, outcome))
            if promoted_at is None and sentinel_set.primary() not in (None, frozen):
                promoted_at = time.monotonic() - start
            if outcome == "ok" and promoted_at is not None:
                break
            time.sleep(0.05)
    finally:
        sentinel_set.nodes[frozen].signal(signal.SIGCONT)
        clients.close()
    assert writes[0][2] == "TimeoutError" and writes[0][1] <= DEFAULT_SOCKET_TIMEOUT + 0.3, writes
    assert writes[1][2] == StoreUnavailable.__name__ and writes[1][1] < 0.05, writes
    assert promoted_at is not None and writes[-1][2] == "ok", writes
    assert writes[-1][0] + writes[-1][1] - promoted_at <= FOLLOWS_WITHIN, (promoted_at, writes)
    assert all(took <= DEFAULT_SOCKET_TIMEOUT + 0.3 for _, took, _ in writes), writes
