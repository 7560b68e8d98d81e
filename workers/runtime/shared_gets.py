"""Redis GETs that share a round trip: the ones the workers make in one turn of eventlet's hub.

The first GET of a turn yields once, so that the workers made ready in the same turn add theirs,
then sends them all as one redis-py pipeline (without MULTI) and hands each caller its own
answer; a GET with no company goes out alone. Failure modes are a lone GET's: a command's error
goes to its caller, a connection error or timeout to every GET of the batch. With tracing on,
every GET goes alone.

Why, what it saves and how it fails: docs/design.md, "Shared GETs".
"""

from dataclasses import dataclass, field

from eventlet import sleep
from eventlet.event import Event
from eventlet.patcher import is_monkey_patched
from redis import exceptions as redis_errors

from telemetry import ENABLED as TRACING


def shared_gets(client):
    """What a store calls `.get(key)` on: GETs through `client` that share round trips, or
    `client` itself with tracing on, or outside a green process (the fast tier's in-process
    services, called from OS threads, which greenthreads cannot wait for)."""
    return SharedGets(client) if not TRACING and is_monkey_patched("thread") else client


class SharedGets:
    def __init__(self, client):
        self.client = client
        self._batch = None  # the GETs the current turn's leader is collecting

    def get(self, key):
        """The value at `key` (None if there is none), as `client.get(key)` returns it."""
        batch = self._batch
        if batch is not None:  # a leader is collecting: its pipeline carries this GET too
            done = Event()
            batch.followers.append((key, done))
            return done.wait()  # the value, or the exception sent in its place
        self._batch = batch = _Batch(key)
        try:
            try:
                sleep(0)  # to the back of the hub's queue: every greenthread ready now runs first
            finally:
                self._batch = None
            if not batch.followers:
                return self.client.get(key)
            results = self._pipeline(batch)
        except BaseException as exc:  # the connection failed, or this greenthread was killed
            failure = exc if isinstance(exc, Exception) else redis_errors.ConnectionError("the batch was abandoned")
            for _, done in batch.followers:
                done.send_exception(failure)
            raise
        for (_, done), result in zip(batch.followers, results[1:], strict=True):
            if isinstance(result, Exception):
                done.send_exception(result)
            else:
                done.send(result)
        if isinstance(results[0], Exception):
            raise results[0]
        return results[0]

    def _pipeline(self, batch):
        """Every GET of `batch`, the leader's first: their values, or a command's own error in
        its place (a connection error raises)."""
        pipeline = self.client.pipeline(transaction=False)
        pipeline.get(batch.key)
        for key, _ in batch.followers:
            pipeline.get(key)
        return pipeline.execute(raise_on_error=False)


@dataclass
class _Batch:
    key: str  # the leader's
    followers: list = field(default_factory=list)  # (key, Event) of the GETs added meanwhile
