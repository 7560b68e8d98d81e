"""After a Redis command timed out, the client's next commands fail at once for a moment.

A frozen or cut-off server answers nothing: each command waits out its socket timeout, and every
connection of the pool is stuck on it in turn, so every worker waits the whole timeout again. Here
the first timeout opens the circuit for FAIL_FAST_FOR seconds: the client's commands raise
StoreUnavailable without being sent (the worker answers 503 with Retry-After; reads go to a
replica meanwhile, storage.py), and the pool's idle connections are closed, so the next command
after the pause connects again, asking the sentinels where the primary is now. With Sentinel, a
command during the pause also asks them (at most every MASTER_CHECK_INTERVAL): once they name
another primary, the pause ends there, and the client follows the new primary within moments of
its promotion.

It is redis-py's Retry (no retries, as before), the hook every command, pipeline and connect of a
client goes through (and `on_connect`, a plain connection's handshake); one instance is shared by
the client's connections (redis-py copies it into each: `__deepcopy__`). Refused or reset
connections do not open it: they fail fast by themselves, and a failover's sentinels close their
clients' connections on purpose.
"""

import time

from redis import exceptions as redis_errors
from redis.backoff import NoBackoff
from redis.retry import Retry

FAIL_FAST_FOR = 1.0  # seconds
MASTER_CHECK_INTERVAL = 0.2  # seconds between two questions to the sentinels during a pause


class StoreUnavailable(redis_errors.ConnectionError):
    """Not sent: the server did not answer a moment ago (a definite failure, the store unchanged)."""


class FailFast(Retry):
    def __init__(self, pause=FAIL_FAST_FOR):
        super().__init__(NoBackoff(), 0)
        self.pause = pause
        self.pool = None  # the client's connection pool (watch)
        self.open_until = 0.0
        self.tripped_master = None  # with Sentinel: the primary that did not answer
        self.next_master_check = 0.0

    def __deepcopy__(self, memo):
        return self  # redis-py copies the client's Retry into each connection: they share this one

    def watch(self, client):
        """Close `client`'s idle connections when the circuit opens; returns the client."""
        self.pool = client.connection_pool
        return client

    def call_with_retry(self, do, fail):
        if self.open_until and not self._may_try():
            raise StoreUnavailable(f"the data store did not answer; not asked again for {self.pause:g}s")
        try:
            return super().call_with_retry(do, fail)
        except (redis_errors.TimeoutError, TimeoutError):  # the builtin one: a connect that timed out
            self._open()
            raise

    def on_connect(self, connection):
        """redis-py's handshake on a new connection (AUTH, SELECT, CLIENT SETINFO), which a plain
        connection does not run through call_with_retry (a Sentinel-managed one does): a timeout
        there opens the circuit too. Given as the connections' `redis_connect_func`."""
        try:
            connection.on_connect()
        except redis_errors.TimeoutError:
            self._open()
            raise

    def _open(self):
        now = time.monotonic()
        self.open_until = now + self.pause
        self.next_master_check = now
        self.tripped_master = getattr(self.pool, "master_address", None)
        if self.pool is not None:
            self.pool.disconnect(inuse_connections=False)  # the busy ones time out or come back

    def _may_try(self):
        now = time.monotonic()
        if now >= self.open_until or self._master_moved(now):
            self.open_until = 0.0
            return True
        return False

    def _master_moved(self, now):
        """With Sentinel, whether the sentinels name another primary than the one that timed out
        (asked at most every MASTER_CHECK_INTERVAL; redis-py then closes the pool's idle
        connections to the old one itself)."""
        ask = getattr(self.pool, "get_master_address", None)
        if ask is None or now < self.next_master_check:
            return False
        self.next_master_check = now + MASTER_CHECK_INTERVAL
        try:
            return ask() != self.tripped_master
        except redis_errors.RedisError:  # no sentinel answered: no news
            return False
