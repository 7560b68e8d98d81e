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
import threading
import time
from collections import deque

from amqp.exceptions import AMQPError
from kombu.exceptions import OperationalError
from nameko.exceptions import RpcTimeout as NamekoRpcTimeout, UnknownService as NamekoUnknownService
from nameko.standalone.rpc import ClusterRpcProxy

from gateway.rpc.calls import NotConnected, Overloaded, RpcTimeout, UnknownService

log = logging.getLogger(__name__)

BROKEN_CONNECTION = (OSError, OperationalError, AMQPError)


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


class ProxyPool:
    def __init__(self, config, *, size=8, timeout=10.0, checkout_timeout=1.0, max_age=0.0,
                 proxy_factory=ClusterRpcProxy):
        self.config = config
        self.size, self.timeout, self.checkout_timeout, self.max_age = size, timeout, checkout_timeout, max_age
        self.proxy_factory = proxy_factory
        self._idle = deque()  # most recently used last: reuse warm proxies first
        self._members = 0  # idle + checked out
        self._condition = threading.Condition()
        self._closed = False
        self.created = self.stopped = self.exhausted = 0

    @classmethod
    def from_settings(cls, settings):
        config = {"AMQP_URI": settings.amqp_uri, "rpc_exchange": settings.rpc_exchange}
        return cls(config, size=settings.rpc_pool_size, timeout=settings.rpc_timeout,
                   checkout_timeout=settings.rpc_checkout_timeout, max_age=settings.rpc_proxy_max_age)

    @property
    def connected(self):
        """Whether a call can be attempted: a proxy connects when it is made, so this is a guess
        until a call fails; readiness checks call the services anyway."""
        return not self._closed

    def stats(self):
        with self._condition:
            return {"size": self.size, "members": self._members, "idle": len(self._idle),
                    "created": self.created, "stopped": self.stopped, "exhausted": self.exhausted}

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
        deadline = time.monotonic() + self.checkout_timeout
        with self._condition:
            while True:
                if self._closed:
                    raise NotConnected("The gateway is shutting down.")
                if self._idle:
                    return self._idle.pop()
                if self._members < self.size:
                    self._members += 1
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.exhausted += 1
                    raise PoolExhausted("No RPC proxy became free in time.")
                self._condition.wait(remaining)
        try:  # connect outside the lock: it takes a round trip or more
            member = _Member(self.config, self.timeout, self.proxy_factory)
        except BaseException as exc:
            with self._condition:
                self._members -= 1
                self._condition.notify()
            if isinstance(exc, BROKEN_CONNECTION):
                raise NotConnected(f"Cannot connect to the broker: {type(exc).__name__}") from None
            raise
        with self._condition:
            self.created += 1
        return member

    def _checkin(self, member, keep):
        if keep and self.max_age and time.monotonic() - member.born > self.max_age:
            keep = False
        if keep:
            # No call is outstanding on a checked-in proxy: any reply it still holds is one that
            # arrived after its caller stopped waiting. Drop them so none can pile up.
            member.consumer.replies.clear()
        with self._condition:
            if keep and not self._closed:
                self._idle.append(member)
                self._condition.notify()
                return
            self._members -= 1
            self.stopped += 1
            self._condition.notify()
        member.stop()

    def close(self):
        """Stop every idle proxy now, and each busy one as it comes back."""
        with self._condition:
            self._closed = True
            idle, self._idle = list(self._idle), deque()
            self._members -= len(idle)
            self.stopped += len(idle)
            self._condition.notify_all()
        for member in idle:
            member.stop()
