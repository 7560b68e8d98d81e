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
  context dict before each call (a proxy belongs to one thread at a time);
* fast failure while the broker is down: nameko's publisher retries a dead connection for
  seconds, so a watchdog thread probes the broker's port twice a second; while it is closed,
  calls fail at once (503) and idle proxies, whose connections died with it, are dropped.
  With several brokers (AMQP_URI `uri1;uri2`, a cluster's nodes; kombu fails over among them)
  it probes each: the broker is down when none answers.

What it cannot do that the ASGI client does: republish a call whose connection broke, as the
same call. nameko's MethodProxy makes a new correlation id for every call, so a call that fails
mid-way is a 503 (README: "A RabbitMQ cluster, and what a lost node costs"). A break while it
waits for the reply is survived: the reply queue is a quorum queue on a quorum vhost, and nameko's
consumer reconnects to another node and goes on waiting.
"""

import logging
import socket
import threading
import time
import urllib.parse
from collections import deque

import kombu.serialization
import orjson
from amqp.exceptions import AMQPError, MessageNacked
from kombu.exceptions import OperationalError
from nameko.exceptions import RpcTimeout as NamekoRpcTimeout
from nameko.exceptions import UnknownService as NamekoUnknownService
from nameko.rpc import ServiceProxy
from nameko.standalone.rpc import ClusterRpcProxy

from gateway.metrics import POOL_WAITING, pool_events, pool_proxies
from gateway.rpc.base import BaseRpcClient
from gateway.rpc.calls import NotConnected, Overloaded, QueueFull, RpcTimeout, UnknownService
from gateway.settings import split_uris
from gateway.tracing import service_proxy_class

log = logging.getLogger(__name__)

# kombu's JSON codec replaced by orjson in this process, as in the workers (workers/common/
# entrypoint.py): the same JSON on the wire, less CPU per call.
kombu.serialization.register(
    "json", orjson.dumps, orjson.loads, content_type="application/json", content_encoding="utf-8"
)

BROKEN_CONNECTION = (OSError, OperationalError, AMQPError)
SERVICE_PROXY = service_proxy_class(ServiceProxy)  # with tracing on, its requests carry the context
WATCH_INTERVAL = 0.5  # seconds between probes of the broker's port


def _address(uri):
    parts = urllib.parse.urlsplit(uri)
    return (parts.hostname or "localhost", parts.port or (5671 if parts.scheme == "amqps" else 5672))


class PoolExhausted(Overloaded):
    """Every proxy stayed busy for the whole checkout timeout."""


# nameko's publisher reconnects and retries three times, two seconds apart; a request would wait
# that long to learn the broker is gone. One quick retry still rides over a stale pooled connection.
QUICK_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.1}


class _Member:
    """One proxy: the object constructed (to stop), and a ServiceProxy per service on its reply
    listener, as ClusterRpcProxy makes them, but with the quick publish retry."""

    def __init__(self, config, timeout, factory):
        self.context = {}
        self.standalone = factory(config, context_data=self.context, timeout=timeout)
        self.standalone.start()
        self.services = {}
        self.born = time.monotonic()

    def service(self, name):
        proxy = self.services.get(name)
        if proxy is None:
            proxy = self.services[name] = SERVICE_PROXY(
                self.standalone._worker_ctx,
                name,
                self.standalone._reply_listener,
                retry_policy=QUICK_RETRY,
                transport_options=dict(QUICK_RETRY),
            )
        return proxy

    @property
    def consumer(self):
        # nameko's PollingQueueConsumer: holds the replies dict and the socket timeout
        return self.standalone._reply_listener.queue_consumer

    def call(self, rpc_call, request_id):
        self.context["request_id"] = request_id
        consumer = self.consumer
        default_timeout = consumer.timeout
        if rpc_call.timeout is not None:
            consumer.timeout = rpc_call.timeout
        try:
            return getattr(self.service(rpc_call.service), rpc_call.method)(**rpc_call.kwargs)
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


class ProxyPool(BaseRpcClient):
    def __init__(
        self, config, *, size=8, timeout=10.0, checkout_timeout=1.0, max_age=0.0, proxy_factory=ClusterRpcProxy
    ):
        self.config = config
        self.size, self.timeout, self.checkout_timeout, self.max_age = size, timeout, checkout_timeout, max_age
        self.proxy_factory = proxy_factory
        self._idle = deque()  # most recently used last: reuse warm proxies first
        self._waiters = deque()  # first come, first served: a returned proxy goes to the longest waiter
        self._members = 0  # proxies in existence or being made: idle + checked out + connecting
        self._lock = threading.Lock()
        self._closed = False
        self.created = self.stopped = self.exhausted = 0
        self._broker_addresses = [_address(uri) for uri in split_uris(config["AMQP_URI"])]
        self._broker_up = self._probe()
        self._watchdog = threading.Thread(target=self._watch, name="broker-watchdog", daemon=True)
        self._watchdog.start()

    @classmethod
    def from_settings(cls, settings):
        config = {"AMQP_URI": settings.amqp_uri, "rpc_exchange": settings.rpc_exchange}
        if settings.amqp_tls:
            config["AMQP_SSL"] = settings.nameko_ssl()
        return cls(
            config,
            size=settings.proxies,
            timeout=settings.rpc_timeout,
            checkout_timeout=settings.rpc_checkout_timeout,
            max_age=settings.rpc_proxy_max_age,
        )

    @property
    def connected(self):
        """Whether the broker's port answered the last probe (readiness also calls the services)."""
        return not self._closed and self._broker_up

    def _probe(self):
        """Whether any of the brokers (the nodes of a cluster: kombu fails over among them) answers."""
        for address in self._broker_addresses:
            try:
                socket.create_connection(address, timeout=1.0).close()
                return True
            except OSError:
                continue
        return False

    def _watch(self):
        while not self._closed:
            self._broker_seen(self._probe())
            time.sleep(WATCH_INTERVAL)

    def _broker_seen(self, up):
        """Record what a probe found (the watchdog's, or a request's before it connects): when the
        broker goes away, the idle proxies' connections are dead, so they are dropped."""
        was_up, self._broker_up = self._broker_up, up
        if was_up and not up:
            log.warning("broker at %s unreachable; failing calls fast", self._where())
            self._drop_idle()
        elif up and not was_up:
            log.info("broker at %s reachable again", self._where())

    def _where(self):
        return ", ".join(f"{host}:{port}" for host, port in self._broker_addresses)

    def _drop_idle(self):
        with self._lock:
            idle, self._idle = list(self._idle), deque()
            self._members -= len(idle)
            self._count("stopped", len(idle))
            self._publish()
        for member in idle:
            member.stop()

    def stats(self):
        with self._lock:
            return {
                "size": self.size,
                "members": self._members,
                "idle": len(self._idle),
                "waiting": len(self._waiters),
                "created": self.created,
                "stopped": self.stopped,
                "exhausted": self.exhausted,
            }

    def call(self, rpc_call, caller):
        member = self._checkout()
        keep = False
        try:
            result = member.call(rpc_call, caller.request_id)
            keep = True
            return result
        except NamekoRpcTimeout:
            raise RpcTimeout("The service did not answer in time.") from None
        except NamekoUnknownService as exc:
            keep = True
            raise UnknownService(str(exc)) from None
        except BROKEN_CONNECTION as exc:
            if isinstance(exc.__cause__, MessageNacked):  # the publisher's confirm was a nack (kombu wraps it)
                keep = True
                raise QueueFull("The service's queue is full.") from None
            raise NotConnected(f"Broker connection failed: {type(exc).__name__}") from None
        except Exception as exc:
            # A service's own error (typed, or nameko's RemoteError) leaves the proxy fine.
            keep = exc.__class__.__module__.startswith(("schemas.", "nameko."))
            raise
        finally:
            self._checkin(member, keep)

    def _checkout(self):
        if not self._broker_up:
            raise NotConnected("The broker is unreachable.")
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
                    if waiter.member is None and not waiter.grant and waiter in self._waiters:
                        self._waiters.remove(waiter)  # nothing came: give up the place
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
        # A proxy connects with kombu's defaults: two seconds before a retry when refused. The
        # port is probed first, so that a broker that just went down fails the request at once.
        if not self._probe():
            self._broker_seen(False)
            raise NotConnected("The broker is unreachable.")
        try:
            return _Member(self.config, self.timeout, self.proxy_factory)
        except BROKEN_CONNECTION as exc:
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
        pool_events(event).inc(n)

    def _publish(self):
        """Export the pool's state (called with the lock held, after each change)."""
        pool_proxies("idle").set(len(self._idle))
        pool_proxies("busy").set(self._members - len(self._idle))
        POOL_WAITING.set(len(self._waiters))

    def close(self):
        """Stop every idle proxy now, and each busy one as it comes back."""
        with self._lock:
            self._closed = True
            waiters, self._waiters = list(self._waiters), deque()
        for waiter in waiters:  # woken with neither a proxy nor a place: they leave
            waiter.event.set()
        self._drop_idle()
