"""Redis for a service: a DependencyProvider of the project's own (REDIS_URI, a single server or
Sentinel; see workers/common/redis_clients.py), behind the service's own store class."""

from typing import NamedTuple

from nameko.extensions import DependencyProvider
from redis import exceptions as redis_errors

from schemas.errors import ServiceUnavailable
from workers.common.metrics import REDIS_REPLICA_READS
from workers.common.redis_clients import connect
from workers.common.tracing import instrument_redis
from workers.common.tracing import script as named_script
from workers.runtime.shared_gets import shared_gets

REDIS_URIS_KEY = "REDIS_URIS"  # the config's mapping, as nameko-redis named it
REDIS_URI_KEY = "travel"  # the entry of REDIS_URIS in the config
DEFAULT_KEY_PREFIX = "travel:"
DEFAULT_WAIT_TIMEOUT_MS = 1000
# Bounds on every Redis call, so that a dead or partitioned server gives a 503, never a hang:
# a connection that takes longer to open, or a command longer to answer, fails (and the next
# commands fail at once for a moment: workers/common/fail_fast.py). A command answers in well
# under a millisecond; WAIT takes up to REDIS_WAIT_TIMEOUT_MS, which the timeout then exceeds.
DEFAULT_CONNECT_TIMEOUT = 2
DEFAULT_SOCKET_TIMEOUT = 2


class Stored(NamedTuple):
    """A record as read, with its JSON as stored: a change or a delete of it goes ahead only if
    the JSON is still the same (compared in the write's Lua script)."""

    record: dict
    raw: str


class Keyspace:
    """Key names owned by one service: `<prefix>{<service>}:<part>:<part>`.

    The braces are a Redis Cluster hash tag: every key of a service lands in one
    slot, so its multi-key scripts stay atomic (and legal) on a cluster too.
    """

    def __init__(self, prefix, service):
        self.base = f"{prefix}{{{service}}}"

    def __call__(self, *parts):
        return ":".join((self.base, *parts))


class Writes:
    """The write scripts of a store. With REDIS_WAIT_REPLICAS=n, each script is followed by
    `WAIT n REDIS_WAIT_TIMEOUT_MS` on the same connection (WAIT counts the replicas that have the
    writes *of its own connection*, so it must not go out on another one of the pool), and a write
    fewer replicas confirmed in time is answered with ServiceUnavailable: it is on the primary, but
    a failover could still lose it. The caller's retry is safe (creates are idempotent).

    An answer given from an earlier call's write (a replayed create, a delete done before) waits
    too (`waits_when` says which answers need it), and its script writes again: since Redis 7.2
    WAIT covers only what its connection wrote, which a read does not move (7.0 moved it with any
    command). docs/faults.md, "A replay answered before the replicas had it"."""

    def __init__(self, client, config):
        self.client = client
        self.replicas = int(config.get("REDIS_WAIT_REPLICAS", 0) or 0)
        self.timeout_ms = int(config.get("REDIS_WAIT_TIMEOUT_MS", DEFAULT_WAIT_TIMEOUT_MS) or 0)
        if self.replicas and self.timeout_ms <= 0:  # WAIT's 0 is "for ever": never a hang
            raise ValueError("REDIS_WAIT_TIMEOUT_MS must be a positive number of milliseconds")

    def script(self, name, lua, waits_when=None):
        """A callable `(keys=..., args=...)` running the script (redis-py's Script: EVALSHA, and
        SCRIPT LOAD on NOSCRIPT, as on a new primary after a failover, whose cache is empty);
        `name` names its spans when tracing is on. `waits_when(result)`: whether this answer
        needs the replicas (every answer does unless it is given)."""
        script = named_script(self.client, name, lua)
        if not self.replicas:
            return script

        def run_and_wait(keys=(), args=()):
            with self.client.client() as pinned:  # one connection of the pool, for both commands
                result = script(keys=keys, args=args, client=pinned)
                if waits_when is None or waits_when(result):
                    self._confirm(pinned.wait(self.replicas, self.timeout_ms))
            return result

        return run_and_wait

    def _confirm(self, acknowledged):
        if acknowledged < self.replicas:
            raise ServiceUnavailable(
                f"The write reached {acknowledged} of the {self.replicas} replica(s) it waits for; try again later."
            )


class Reads:
    """Reads go to the primary (a read after a write sees it); only while the primary cannot be
    reached (a failover) do they go to a replica, which may miss the last writes not yet
    replicated (the ones the failover loses anyway). Without Sentinel there is no replica."""

    def __init__(self, primary, replica=None):
        self.primary, self.replica = primary, replica
        self._gets = {client: shared_gets(client) for client in (primary, replica) if client is not None}

    def __call__(self, read):
        """`read(client)` on the primary, or on a replica while the primary is unreachable."""
        try:
            return read(self.primary)
        except (redis_errors.ConnectionError, redis_errors.TimeoutError):
            if self.replica is None:
                raise
        REDIS_REPLICA_READS.inc()
        try:
            return read(self.replica)
        except redis_errors.ConnectionError:
            # A sentinel reconfiguring a replica (or promoting it) closes its clients' connections
            # (CLIENT KILL TYPE normal), a read in flight among them: one more try, on a new
            # connection, to whichever replica the sentinels name now. A read can run twice; a
            # timeout is not tried again, so that the time a call can take stays bounded.
            return read(self.replica)

    def get(self, key):
        """GET `key` (None if absent) where `__call__` reads, sharing its round trip with the
        other GETs of this turn of the hub (workers/runtime/shared_gets.py)."""
        return self(lambda client: self._gets[client].get(key))


class RedisStore(DependencyProvider):
    """Hands each worker the service's `store_cls(client, prefix, config, replica=...)`, built once
    per container (it registers its Lua scripts with the client)."""

    def __init__(self, store_cls, **options):
        options.setdefault("socket_connect_timeout", DEFAULT_CONNECT_TIMEOUT)
        options.setdefault("socket_timeout", DEFAULT_SOCKET_TIMEOUT)
        options.setdefault("decode_responses", True)
        self.options = options
        self.store_cls = store_cls
        self.clients = None
        self.store = None

    def setup(self):
        self.redis_uri = self.container.config[REDIS_URIS_KEY][REDIS_URI_KEY]

    def start(self):
        config = self.container.config
        options = dict(self.options)
        if int(config.get("REDIS_WAIT_REPLICAS", 0) or 0):  # a WAIT must not time out before it answers
            wait = int(config.get("REDIS_WAIT_TIMEOUT_MS", DEFAULT_WAIT_TIMEOUT_MS) or 0) / 1000
            options["socket_timeout"] = max(options["socket_timeout"], wait + 1)
        self.clients = connect(self.redis_uri, **options)  # its errors never quote the URI
        for client in (self.clients.primary, self.clients.replica):
            if client is not None:
                instrument_redis(client, self.container.service_name)
        prefix = config.get("REDIS_KEY_PREFIX", DEFAULT_KEY_PREFIX)
        self.store = self.store_cls(self.clients.primary, prefix, config, replica=self.clients.replica)

    def stop(self):
        self._close()

    def kill(self):
        self._close()

    def _close(self):
        if self.clients is not None:
            self.clients.close()
        self.clients = None
        self.store = None

    def get_dependency(self, worker_ctx):
        return self.store
