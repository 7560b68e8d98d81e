"""The WSGI gateway's RPC client: a bounded pool of blocking AMQP links (blocking_link.py), each
checked out by one thread for one call, over the broker nodes AMQP_URI lists (`uri1;uri2;...`).

It speaks nameko's wire protocol itself, as the ASGI client does, instead of driving nameko's
ClusterRpcProxy: that proxy makes a new correlation id for every call, so a call could not be
sent again as the same call, and its publisher waited without a bound for a silent node.

* bounded: at most `size` links; a thread that waits longer than `checkout_timeout` for one gets
  PoolExhausted (503) rather than queueing behind a stuck pool;
* never later than the call's timeout: one deadline covers the wait for a link, making one, the
  call and every copy of it (each read is bounded by the time left);
* nodes watched (node_watch.py): a node refusing, reset or silent (frozen, cut off) is down within
  1.6 s. Its idle links are dropped, new links go to the node up with the fewest, and while no node
  is up new calls fail at once (NotConnected, 503);
* a call whose link breaks, or whose node goes down while it waits, is published again with the
  same correlation id and the time it has left, on a link to a node that is up (503 if none is:
  the whole broker is gone, and callers get fast answers meanwhile); the workers answer a
  repeated correlation id as its first run did (creates replay their record, deletes their
  success: workers/common/idempotency.py);
* the unsettled window, as the ASGI client has it (its docstring says why): for UNSETTLED_FOR
  seconds after a node or a link is lost, a call unanswered RESEND_FIRST after it went out is sent
  again on its link, at doubling intervals, each copy on a publishing channel opened at most
  RESEND_FIRST before; a nack then means "send again", not a full queue;
* replies are matched by correlation id: one that comes after its call gave up is dropped, so a
  link survives a timeout; links older than `max_age` are recycled.
"""

import logging
import threading
import time
from collections import deque
from random import getrandbits

import orjson
from amqp.exceptions import AMQPError

from gateway.metrics import POOL_WAITING, REPUBLISHED, pool_events, pool_proxies
from gateway.rpc.asyncio_client import RESEND_FIRST, UNSETTLED_FOR, decode_reply
from gateway.rpc.base import BaseRpcClient
from gateway.rpc.blocking_link import Link, Node, Refused, Returned
from gateway.rpc.calls import NotConnected, Overloaded, QueueFull, RpcError, RpcTimeout, UnknownService
from gateway.rpc.node_watch import NodeWatch
from gateway.settings import split_uris
from gateway.tracing import ENABLED as TRACING
from gateway.tracing import trace_headers

log = logging.getLogger(__name__)

BROKEN = (OSError, AMQPError)  # a link's connection failed (read timeouts are OSErrors too)
CONNECT_TIMEOUT = 1.0  # TCP connect and AMQP handshake of a new link, each read
CHECK_EVERY = 0.25  # a waiting call looks at its node's state (and its copies) this often
NEW_LINK_PAUSE = 5.0  # no new link to a node that did not take one, nor to any after a node went silent


class PoolExhausted(Overloaded):
    """Every link stayed busy for the whole checkout timeout."""


class _LinkLost(Exception):
    """The call's link broke or its node went silent: the link is gone, the call goes elsewhere."""


class _Waiter:
    """A thread waiting for a link: handed one (`link`), or woken to look again."""

    __slots__ = ("event", "link")

    def __init__(self):
        self.event, self.link = threading.Event(), None


class ProxyPool(BaseRpcClient):
    def __init__(self, config, *, size=8, timeout=10.0, checkout_timeout=1.0, max_age=0.0):
        self.exchange = config.get("rpc_exchange", "nameko-rpc")
        self.nodes = [Node.from_uri(uri, config.get("AMQP_SSL")) for uri in split_uris(config["AMQP_URI"])]
        self.size, self.timeout, self.checkout_timeout, self.max_age = size, timeout, checkout_timeout, max_age
        self._idle = deque()  # most recently used last: reuse warm links first
        self._waiters = deque()  # first come, first served: a returned link goes to the longest waiter
        self._members = 0  # links in existence or being made: idle + checked out + connecting
        self._on_node = [0] * len(self.nodes)  # the same, per node
        self._lock = threading.Lock()
        self._closed = False
        self._unsettled_until = float("-inf")
        self.created = self.stopped = self.exhausted = 0
        self.republished = 0  # calls sent again on another link, theirs lost
        self.resent = self.channels_renewed = 0  # copies in the unsettled window, and fresh channels for them
        self._no_new_links_until = [0.0] * len(self.nodes)  # per node (monotonic): see _make
        self.watch = NodeWatch(self.nodes, self._node_changed, on_round=self._keep_standby)

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
        """Whether any node answered its last probe (readiness also calls the services)."""
        return not self._closed and any(self.watch.up)

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
                "republished": self.republished,
                "resent": self.resent,
                "channels_renewed": self.channels_renewed,
                "nodes_up": sum(self.watch.up),
                "probes": self.watch.probes,
            }

    # -- nodes ------------------------------------------------------------------

    def _node_changed(self, index, up, silent=False):
        node = self.nodes[index]
        if up:
            log.info("broker node %s answers again", node)
            self._no_new_links_until[index] = 0.0  # it took the watch's new connection
            return
        log.warning("broker node %s does not answer; its calls go to another node", node)
        self._unsettle()
        if silent:  # the others may stall new connections until the cluster notices (README)
            self._no_new_links_until = [time.monotonic() + NEW_LINK_PAUSE] * len(self.nodes)
        with self._lock:
            gone = [link for link in self._idle if link.index == index]
            for link in gone:
                self._idle.remove(link)
                self._forget(link)
            self._members -= len(gone)  # idle: no waiter needs their places
            self._publish()
        for link in gone:
            link.drop()

    def _unsettle(self):
        now = time.monotonic()
        if now >= self._unsettled_until:
            log.info("calls unanswered after %.0f s are sent again for %.0f s", RESEND_FIRST, UNSETTLED_FOR)
        self._unsettled_until = now + UNSETTLED_FOR

    # -- calls ------------------------------------------------------------------

    def call(self, rpc_call, caller):
        deadline = time.monotonic() + (rpc_call.timeout or self.timeout)
        correlation_id = f"{getrandbits(128):032x}"
        headers = {
            "nameko.request_id": caller.request_id,
            "nameko.call_id_stack": [f"gateway.{caller.operation}.{correlation_id}"],
        }
        if TRACING:  # the RPC span's context, beside nameko's (gateway/tracing.py)
            trace_headers(headers)
        request = (
            correlation_id,
            f"{rpc_call.service}.{rpc_call.method}",
            orjson.dumps({"args": [], "kwargs": rpc_call.kwargs}),
            headers,
        )
        link = self._checkout(deadline)
        try:
            while True:
                try:
                    body = self._call_on(link, request, deadline)
                    break
                except _LinkLost:
                    link = None
                    link = self._checkout(deadline)
                    self.republished += 1
                    REPUBLISHED.inc()
        except RpcError:  # the link (if any) is fine: its call timed out, or was refused or returned
            raise
        except BaseException:  # anything else: the link's state is unknown
            if link is not None:
                self._discard(link, clean=False)
                link = None
            raise
        finally:
            if link is not None:
                self._checkin(link)
        return decode_reply(body)

    def _call_on(self, link, request, deadline):
        """Publish `request` on `link` and wait for its reply: its body. Raises RpcTimeout,
        UnknownService or QueueFull (the link stays fine), or _LinkLost (the link is gone)."""
        correlation_id, routing_key, body, headers = request
        try:
            link.publish(correlation_id, routing_key, body, headers, deadline - time.monotonic())
            resend_at, interval = None, RESEND_FIRST
            while True:
                now = time.monotonic()
                if now >= deadline:
                    link.done()
                    raise RpcTimeout("The service did not answer in time.")
                if not self.watch.up[link.index]:
                    raise _LinkLost
                if now >= self._unsettled_until:
                    resend_at = None
                elif resend_at is None:
                    resend_at = now + interval
                elif now >= resend_at:
                    self._send_copy(link, request, deadline - now)
                    interval *= 2
                    resend_at = now + interval
                wake = min(deadline, now + CHECK_EVERY, resend_at or deadline)
                try:
                    reply = link.wait(wake - now)
                except Refused:
                    if time.monotonic() < self._unsettled_until:  # a queue electing its leader
                        resend_at = time.monotonic()
                        continue
                    link.done()
                    raise QueueFull("The service's queue is full.") from None
                except Returned as exc:
                    link.done()
                    raise UnknownService(str(exc)) from None
                if reply is not None:
                    self.watch.heard[link.index] = time.monotonic()  # alive: no probe needed
                    return reply
        except (_LinkLost, *BROKEN) as exc:
            log.info("broker link to %s lost during a call (%s): sending it again", link.node, type(exc).__name__)
            self._unsettle()
            self._discard(link, clean=False)
            raise _LinkLost from None

    def _send_copy(self, link, request, remaining):
        correlation_id, routing_key, body, headers = request
        if time.monotonic() - link.publish_channel_opened >= RESEND_FIRST:
            link.renew_publish_channel()
            self.channels_renewed += 1
        link.publish(correlation_id, routing_key, body, headers, remaining)
        self.resent += 1
        REPUBLISHED.inc()

    # -- checkout and checkin ---------------------------------------------------

    def _checkout(self, deadline):
        """A link on a node that is up: an idle one, a new one, or one checked in by another call
        within the checkout timeout. NotConnected at once while no node is up (or none takes new
        connections and the pool has no link to wait for)."""
        give_up = min(deadline, time.monotonic() + self.checkout_timeout)
        while True:
            if self._closed:
                raise NotConnected("The gateway is shutting down.")
            if not any(self.watch.up):
                raise NotConnected("The broker is unreachable.")
            link = waiter = index = None
            with self._lock:
                if self._idle and not self._waiters:
                    link = self._idle.pop()
                else:
                    index = self._node_for_a_new_link() if self._members < self.size else None
                    if index is not None:
                        self._members += 1
                        self._on_node[index] += 1
                    elif not self._members:
                        raise NotConnected("No broker node takes new connections.")
                    else:
                        waiter = _Waiter()
                        self._waiters.append(waiter)
                self._publish()
            if waiter is not None:
                link = self._wait_for_a_link(waiter, give_up, deadline)
            elif index is not None:
                link = self._make(index, deadline)
            if link is not None:
                if self.watch.up[link.index]:
                    return link
                self._discard(link, clean=False)

    def _node_for_a_new_link(self):
        """Of the nodes up and taking new links, the one with the fewest (None if none is)."""
        now = time.monotonic()
        ready = [i for i, up in enumerate(self.watch.up) if up and now >= self._no_new_links_until[i]]
        return min(ready, key=lambda i: self._on_node[i]) if ready else None

    def _wait_for_a_link(self, waiter, give_up, deadline):
        """The link another call handed over, or None when woken to look again (a place freed)."""
        if not waiter.event.wait(max(0.0, give_up - time.monotonic())):
            with self._lock:
                if waiter.link is None and waiter in self._waiters:
                    self._waiters.remove(waiter)  # nothing came: give up the place
                    self._publish()
                    if give_up >= deadline:
                        raise RpcTimeout("The service did not answer in time.")
                    self._count("exhausted")
                    raise PoolExhausted("No RPC proxy became free in time.")
        return waiter.link

    def _make(self, index, deadline):
        """A new link to node `index`, in the place the caller holds; None if the node does not
        take it in time (no new link goes there for NEW_LINK_PAUSE, and the caller looks again)."""
        timeout = min(CONNECT_TIMEOUT, deadline - time.monotonic())
        try:
            if timeout <= 0:
                raise RpcTimeout("The service did not answer in time.")
            link = Link(self.nodes[index], index, self.exchange, timeout)
        except BaseException as exc:
            with self._lock:
                self._on_node[index] -= 1
                self._free_place()
            if not isinstance(exc, BROKEN):
                raise
            log.warning("cannot connect to broker node %s: %r", self.nodes[index], exc)
            self._no_new_links_until[index] = time.monotonic() + NEW_LINK_PAUSE
            if isinstance(exc, ConnectionRefusedError):  # it is down, surely: no need to wait for the watch
                self.watch.saw_down(index)
            return None
        with self._lock:
            self._count("created")
        return link

    def _keep_standby(self):
        """After each round of the watch: a link on every node up that has none, made here rather
        than by a call, so that a node lost leaves links up on the others (a silent node can stall
        new connections to the whole cluster until the cluster notices it: README)."""
        while not self._closed:
            with self._lock:
                bare = [i for i, up in enumerate(self.watch.up) if up and not self._on_node[i]]
                now = time.monotonic()
                bare = [i for i in bare if now >= self._no_new_links_until[i]]
                if not bare or self._members >= self.size:
                    return
                self._members += 1
                self._on_node[bare[0]] += 1
            link = self._make(bare[0], time.monotonic() + CONNECT_TIMEOUT)
            if link is not None:
                self._checkin(link)

    def _checkin(self, link):
        if self.max_age and time.monotonic() - link.born > self.max_age:
            self._discard(link, clean=True)
            return
        if not self.watch.up[link.index]:
            self._discard(link, clean=False)
            return
        with self._lock:
            if not self._closed:
                if self._waiters:
                    waiter = self._waiters.popleft()
                    waiter.link = link
                    waiter.event.set()
                else:
                    self._idle.append(link)
                self._publish()
                return
        self._discard(link, clean=True)

    def _discard(self, link, clean):
        """Stop a link that is checked out: closed cleanly, or dropped when its node may be silent."""
        with self._lock:
            self._forget(link)
            self._free_place()
        link.close() if clean else link.drop()

    def _forget(self, link):
        """Count a link out (with the lock held); its place is freed by the caller."""
        self._on_node[link.index] -= 1
        self._count("stopped")

    def _free_place(self):
        """A link is gone (or was never made): one place fewer, and the longest waiter looks again
        (it may make one). With the lock held."""
        self._members -= 1
        if self._waiters:
            self._waiters.popleft().event.set()
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
        """Stop every idle link now, and each busy one as it comes back."""
        with self._lock:
            self._closed = True
            waiters, self._waiters = list(self._waiters), deque()
            idle, self._idle = list(self._idle), deque()
            for link in idle:
                self._forget(link)
            self._members -= len(idle)
            self._publish()
        for waiter in waiters:  # woken with neither a link nor a place: they leave
            waiter.event.set()
        for link in idle:
            link.close()
        self.watch.close()
