"""The WSGI gateway's RPC client: a bounded pool of nameko's own standalone ClusterRpcProxy.

A ClusterRpcProxy is single-threaded (one kombu connection, drained by the calling thread), so
each call checks one out exclusively and returns it after. Around that, what flask_nameko and
friends leave out:

* bounded: at most `size` proxies; a thread that waits longer than `checkout_timeout` for one
  gets PoolExhausted (503) rather than queueing behind a stuck pool;
* replaced when in doubt: after a timeout (its reply may still arrive, and the consumer would
  keep it in `replies` for ever), a broken connection or anything unexpected, the proxy is
  stopped and a fresh one made on demand;
* always stopped: on replacement, on recycling (`max_age`) and on `close()`, `stop()` is called
  on the object that was constructed (not on what `start()` returned), so no AMQP connection leaks;
* context per call: the request id travels as a nameko context header, set on the proxy's
  context dict before each call (a proxy belongs to one thread at a time).
"""
import logging
import socket
import threading
import time
import urllib.parse
from collections import deque

from amqp.exceptions import AMQPError
from kombu.exceptions import OperationalError
from nameko.exceptions import RpcTimeout as NamekoRpcTimeout, UnknownService as NamekoUnknownService
from nameko.standalone.rpc import ClusterRpcProxy

from gateway.metrics import POOL_EVENTS, POOL_PROXIES, POOL_WAITING
from gateway.rpc.calls import NotConnected, Overloaded, RpcTimeout, UnknownService

log = logging.getLogger(__name__)

BROKEN_CONNECTION = (OSError, OperationalError, AMQPError)
DOWN_PAUSE = 1.0  # seconds new connections are refused after one failed


class PoolExhausted(Overloaded):
    """Every proxy stayed busy for the whole checkout timeout."""


class _Member:
    """One proxy: the object constructed (to stop) and the one start() returned (to call)."""

    def __init__(self, config, timeout, factory):
        self.context = {}
        self.standalone = factory(config, context_data=self.context, timeout=timeout)
        self.cluster = self.standalone.start()
        self.born = time.monotonic()

    @property
    def consumer(self):
        # nameko's PollingQueueConsumer: holds the replies dict and the socket timeout
        return self.standalone._reply_listener.queue_consumer

    def call(self, call, request_id):
        self.context["request_id"] = request_id
        consumer = self.consumer
        default_timeout = consumer.timeout
        if call.timeout is not None:
            consumer.timeout = call.timeout
        try:
            return getattr(self.cluster[call.service], call.method)(**call.kwargs)
        finally:
            consumer.timeout = default_timeout

    def stop(self):
        try:
            self.standalone.stop()
        except Exception as exc:  # it is being discarded anyway
            log.debug("stopping a proxy failed: %s", exc)


class _Waiter:
    """A thread waiting for a proxy: handed one (`member`), or a free place to make one (`grant`)."""

    __slots__ = ("event", "member", "grant")

    def __init__(self):
        self.event, self.member, self.grant = threading.Event(), None, False


class ProxyPool:
    def __init__(self, config, *, size=8, timeout=10.0, checkout_timeout=1.0, max_age=0.0,
                 proxy_factory=ClusterRpcProxy):
        self.config = config
        self.size, self.timeout, self.checkout_timeout, self.max_age = size, timeout, checkout_timeout, max_age
        self.proxy_factory = proxy_factory
        self._idle = deque()  # most recently used last: reuse warm proxies first
        self._waiters = deque()  # first come, first served: a returned proxy goes to the longest waiter
        self._members = 0  # proxies in existence or being made: idle + checked out + connecting
        self._lock = threading.Lock()
        self._closed = False
        self.created = self.stopped = self.exhausted = 0
        address = urllib.parse.urlsplit(config["AMQP_URI"])
        self._broker_address = (address.hostname or "localhost", address.port or 5672)
        self._down_until = 0.0

    @classmethod
    def from_settings(cls, settings):
        config = {"AMQP_URI": settings.amqp_uri, "rpc_exchange": settings.rpc_exchange}
        if settings.amqp_tls:
            config["AMQP_SSL"] = settings.nameko_ssl()
        return cls(config, size=settings.rpc_pool_size, timeout=settings.rpc_timeout,
                   checkout_timeout=settings.rpc_checkout_timeout, max_age=settings.rpc_proxy_max_age)

    @property
    def connected(self):
        """Whether a call can be attempted: a proxy connects when it is made, so this is a guess
        until a call fails; readiness checks call the services anyway."""
        return not self._closed and time.monotonic() >= self._down_until

    def stats(self):
        with self._lock:
            return {"size": self.size, "members": self._members, "idle": len(self._idle),
                    "waiting": len(self._waiters), "created": self.created, "stopped": self.stopped,
                    "exhausted": self.exhausted}

    def call(self, call, caller):
        member = self._checkout()
        keep = False
        try:
            result = member.call(call, caller.request_id)
            keep = True
            return result
        except NamekoRpcTimeout:
            raise RpcTimeout("The service did not answer in time.") from None
        except NamekoUnknownService as exc:
            keep = True
            raise UnknownService(str(exc)) from None
        except BROKEN_CONNECTION as exc:
            raise NotConnected(f"Broker connection failed: {type(exc).__name__}") from None
        except Exception as exc:
            # A service's own error (typed, or nameko's RemoteError) leaves the proxy fine.
            keep = exc.__class__.__module__.startswith(("schemas.", "nameko."))
            raise
        finally:
            self._checkin(member, keep)

    def _checkout(self):
        with self._lock:
            if self._closed:
                raise NotConnected("The gateway is shutting down.")
            if self._idle and not self._waiters:
                member = self._idle.pop()
                self._publish()
                return member
            if self._members < self.size:
                self._members += 1
                waiter = None
            else:
                waiter = _Waiter()
                self._waiters.append(waiter)
            self._publish()
        if waiter is not None:
            if not waiter.event.wait(self.checkout_timeout):
                with self._lock:
                    if waiter.member is None and not waiter.grant:  # nothing came: give up the place
                        self._waiters.remove(waiter)
                        self._count("exhausted")
                        raise PoolExhausted("No RPC proxy became free in time.")
            if waiter.member is not None:
                return waiter.member
            if not waiter.grant:  # woken by close()
                raise NotConnected("The gateway is shutting down.")
        if self._closed:  # we hold a place, and nothing will use it
            self._free_place()
            raise NotConnected("The gateway is shutting down.")
        try:  # connect outside the lock: it takes a round trip or more
            member = self._connect()
        except BaseException:
            self._free_place()
            raise
        with self._lock:
            self._count("created")
        return member

    def _connect(self):
        """A new proxy. kombu retries a refused connection after two seconds; to answer within a
        second while the broker is down, probe its port first, and after a failure refuse new
        connections for a moment rather than try again for every request."""
        if time.monotonic() < self._down_until:
            raise NotConnected("The broker was unreachable a moment ago.")
        try:
            socket.create_connection(self._broker_address, timeout=1.0).close()
            return _Member(self.config, self.timeout, self.proxy_factory)
        except BROKEN_CONNECTION as exc:
            self._down_until = time.monotonic() + DOWN_PAUSE
            raise NotConnected(f"Cannot connect to the broker: {type(exc).__name__}") from None

    def _checkin(self, member, keep):
        if keep and self.max_age and time.monotonic() - member.born > self.max_age:
            keep = False
        if keep:
            # No call is outstanding on a checked-in proxy: any reply it still holds is one that
            # arrived after its caller stopped waiting. Drop them so none can pile up.
            member.consumer.replies.clear()
            with self._lock:
                if not self._closed:
                    if self._waiters:
                        waiter = self._waiters.popleft()
                        waiter.member = member
                        waiter.event.set()
                    else:
                        self._idle.append(member)
                    self._publish()
                    return
        with self._lock:
            self._count("stopped")
        self._free_place()
        member.stop()

    def _free_place(self):
        """A proxy is gone (or was never made): let the longest waiter make one, or shrink."""
        with self._lock:
            if self._waiters and not self._closed:
                waiter = self._waiters.popleft()
                waiter.grant = True
                waiter.event.set()
            else:
                self._members -= 1
            self._publish()

    def _count(self, event, n=1):
        setattr(self, event, getattr(self, event) + n)
        POOL_EVENTS.labels(event).inc(n)

    def _publish(self):
        """Export the pool's state (called with the lock held, after each change)."""
        POOL_PROXIES.labels("idle").set(len(self._idle))
        POOL_PROXIES.labels("busy").set(self._members - len(self._idle))
        POOL_WAITING.set(len(self._waiters))

    def close(self):
        """Stop every idle proxy now, and each busy one as it comes back."""
        with self._lock:
            self._closed = True
            idle, self._idle = list(self._idle), deque()
            self._members -= len(idle)
            self._count("stopped", len(idle))
            waiters, self._waiters = list(self._waiters), deque()
            self._publish()
        for waiter in waiters:  # woken with neither a proxy nor a place: they leave
            waiter.event.set()
        for member in idle:
            member.stop()
