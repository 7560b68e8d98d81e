"""The ASGI gateway's RPC client: nameko's wire protocol over a small pool of AMQP connections.

Each connection ("link") has one reply queue and any number of calls in flight, told apart by
correlation id. Calls go on the first link that is up; the others stand by, connected, on other
nodes of AMQP_URI (`uri1;uri2;uri3`). A call whose link is lost, or whose node goes silent
(node_watch.py notices within about 2 s), is published again with the same correlation id, and
the workers answer a repeated correlation id as its first run did. Every way a call can end, and
what each costs, is in docs/design.md, "Every way a call ends".

Requests on the `nameko-rpc` topic exchange with routing key `<service>.<method>`, JSON
`{"args", "kwargs"}`, context in `nameko.*` headers; replies `{"result", "error"}`, errors rebuilt
with nameko's own registry (nameko/rpc.py).
"""

import asyncio
import collections
import logging
import random
import uuid
from random import getrandbits

import orjson
from nameko.exceptions import deserialize

from gateway.metrics import BROKER_CONNECTIONS, LATE_REPLIES, REPUBLISHED, watch_pending
from gateway.rpc.amqp import AmqpConnection, AmqpParams, ConnectionLost, encode_headers
from gateway.rpc.base import AsyncBaseRpcClient
from gateway.rpc.calls import NotConnected, Overloaded, QueueFull, RpcTimeout, UnknownService
from gateway.rpc.node_watch import NodeWatch
from gateway.settings import masked, split_uris
from gateway.tracing import ENABLED as TRACING
from gateway.tracing import trace_headers

log = logging.getLogger(__name__)

BACKOFF_FIRST, BACKOFF_MAX = 0.1, 5.0
# After a node is lost, a call unanswered RESEND_EVERY seconds after it went out is sent again,
# and again every RESEND_EVERY, until it is answered or its time is up. Each copy carries the same
# correlation id, so the workers run it as one call. Not at doubling intervals: a copy sent while
# the queue still elects its leader is dropped (docs/design.md, "Renewed publishing channels"), so
# the first copy after the election is what answers, and the calls in flight when the node went
# have the least time left. UNSETTLED_FOR covers a quorum queue's leader election under load
# (measured: up to 10 s) and the calls in flight when the node went.
RESEND_EVERY = 1.0
RESEND_TICK = 0.1  # how often the copies due are sent, while any call may need one
UNSETTLED_FOR = 15.0
HEARTBEAT = 2  # seconds: a silent link is dropped after 4 (two heartbeats), as AMQP prescribes
CONNECT_TIMEOUT = 2.0  # TCP and AMQP handshake: a frozen node accepts the first, never the second


def backoff(attempt):
    """Seconds to wait before reconnection attempt `attempt` (1, 2, ...): doubling from
    BACKOFF_FIRST up to BACKOFF_MAX, jittered so that gateways do not reconnect in lockstep."""
    return min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** min(attempt - 1, 16)) * random.uniform(0.5, 1.0)


def decode_reply(body):
    """The result of a nameko reply, or its error raised as the type the service raised."""
    reply = orjson.loads(body)
    error = reply.get("error")
    if error:
        raise deserialize(error)
    return reply.get("result")


class _Call:
    """A call waiting for its reply: what it takes to publish it again elsewhere."""

    __slots__ = (
        "correlation_id",
        "future",
        "routing_key",
        "body",
        "headers",
        "deadline",
        "link",
        "resend_at",
    )

    def __init__(self, correlation_id, future, routing_key, body, headers, deadline, link):
        self.correlation_id, self.future = correlation_id, future
        self.routing_key, self.body, self.headers, self.deadline = routing_key, body, headers, deadline
        self.link = link  # the link it waits on; None while it waits for one to come up
        self.resend_at = 0.0  # set while it is watched for resending


class _Link:
    """One AMQP connection, its reply queue, and the calls waiting on it."""

    def __init__(self, client, number):
        self.client, self.number = client, number
        self.node = number % len(client.nodes)  # the broker it connects to (next one on failure)
        self.connection = None
        self.reply_to = None
        self.pending = {}  # correlation id -> _Call
        self.lost = asyncio.Event()
        self.task = None
        self.connected_at = 0.0

    @property
    def params(self):
        return self.client.nodes[self.node]

    @property
    def usable(self):
        return self.connection is not None and self.connection.usable

    async def run(self):
        """Connect, serve until the connection is lost, back off, and again, until cancelled."""
        attempt = 0
        while True:
            try:
                await self._connect()
                attempt = 0
                await self.lost.wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("broker connection %d to %s failed: %r", self.number, self._where(), exc)
            self.node = self._next_node()
            attempt += 1
            await asyncio.sleep(backoff(attempt))

    def _next_node(self):
        """After losing its node or failing to reach it: of the other nodes, the first (in list
        order, from this one on) that the watch finds up, with the fewest other links on it or
        heading to it. Links lost together then spread over the nodes left instead of all moving
        to the same one, which a second loss would take."""
        count = len(self.client.nodes)
        if count == 1:
            return self.node
        load = collections.Counter(link.node for link in self.client.links if link is not self)
        others = [(self.node + step) % count for step in range(1, count)]
        up = self.client.node_up
        return min(others, key=lambda node: (not up(node), load[node]))  # min keeps the first of equals

    async def _connect(self):
        self.lost.clear()
        reply_to = uuid.uuid4().hex
        connection = await AmqpConnection.open(self.params, self._delivered, self._returned, self._lost, self._refused)
        try:
            await connection.consume_replies(self.client.exchange, reply_to)
        except BaseException:
            connection.close()
            raise
        if not connection.usable:  # lost in the very read that completed the set-up
            raise ConnectionLost("closed during set-up")
        self.connection, self.reply_to = connection, reply_to
        self.connected_at = asyncio.get_running_loop().time()
        self.client.connections_made += 1
        BROKER_CONNECTIONS.inc()
        log.info("connected to the broker at %s (link %d)", self._where(), self.number)
        self.client.adopt_waiting()

    def _where(self):
        return f"{self.params.host}:{self.params.port}"

    def _delivered(self, correlation_id, body):
        call = self.pending.pop(correlation_id, None)
        if call is None or call.future.done():
            self.client.late_replies += 1  # its call timed out or was cancelled: drop it
            LATE_REPLIES.inc()
        else:
            call.future.set_result(body)

    def _returned(self, correlation_id, reply_text):
        call = self.pending.pop(correlation_id, None)
        if call is not None and not call.future.done():
            call.future.set_exception(UnknownService(reply_text))

    def _refused(self, correlation_id):
        call = self.pending.get(correlation_id)
        if call is None or call.future.done() or self.client.send_again_if_unsettled(call):
            return
        del self.pending[correlation_id]
        call.future.set_exception(QueueFull("The service's queue is full."))

    def _lost(self, exc):
        was_up = self.connection is not None and not self.client.closing
        if self.connection is not None:
            BROKER_CONNECTIONS.dec()
        self.connection = None
        pending, self.pending = self.pending, {}
        if was_up:  # (not a failed attempt to connect: a node down does not unsettle forever)
            log.warning("broker connection %d to %s lost: %s", self.number, self._where(), exc)
            self.client.unsettle(f"broker connection {self.number} to {self._where()} lost")
        self.client.rescue(pending.values())
        self.lost.set()

    def send(self, call, exchange, remaining):
        """Publish `call` on this link (it must be usable), to wait here for its reply."""
        call.link = self
        self.pending[call.correlation_id] = call
        self.connection.publish(
            exchange,
            call.routing_key,
            call.body,
            call.correlation_id,
            self.reply_to,
            call.headers,
            str(max(1, int(remaining * 1000))),
        )

    def abandon(self, why):
        """Drop the connection to a node found silent: `_lost` republishes its calls elsewhere."""
        if self.connection is not None:
            self.connection.abandon(ConnectionLost(why))

    def close(self):
        if self.task is not None:
            self.task.cancel()
        if self.connection is not None:
            self.connection.close()


class AsyncRpcClient(AsyncBaseRpcClient):
    def __init__(
        self,
        amqp_uri,
        *,
        connections=2,
        timeout=10.0,
        max_in_flight=1024,
        exchange="nameko-rpc",
        ssl_context=None,
        connection_name="nameko-travel gateway",
        heartbeat=HEARTBEAT,
        confirms=True,
    ):
        options = {"connection_name": connection_name, "heartbeat": heartbeat, "timestamps": TRACING}
        options["connect_timeout"] = CONNECT_TIMEOUT
        options["confirms"] = confirms
        self.nodes = [
            AmqpParams.from_uri(uri, ssl_context if uri.startswith("amqps://") else None, **options)
            for uri in split_uris(amqp_uri)
        ]
        if not self.nodes:
            raise ValueError(f"no broker in AMQP_URI {masked(amqp_uri)!r}")
        self.params = self.nodes[0]
        self.exchange = exchange
        self.timeout = timeout
        self.max_in_flight = max_in_flight
        self.links = [_Link(self, n) for n in range(connections)]
        self.closing = False
        self.in_flight = 0
        self.late_replies = 0
        self.connections_made = 0
        self.republished = 0  # calls of lost links published again
        self.resent = 0  # further copies, sent while a call got no answer after a node was lost
        self.channels_renewed = 0  # publishing channels replaced before copies went out (_resend)
        self._waiting = {}  # correlation id -> _Call whose link was lost, until one is up
        self._resending = {}  # correlation id -> _Call sent again until answered (unsettle)
        self._resend_timer = None
        self._unsettled_until = float("-inf")
        self._node_watch = None  # NodeWatch, when AMQP_URI lists several nodes
        self._loop = None  # the running loop, from start()

    @classmethod
    def from_settings(cls, settings):
        """The client the ASGI gateway runs with (gateway/settings.py)."""
        return cls(
            settings.amqp_uri,
            connections=settings.connections,
            timeout=settings.rpc_timeout,
            max_in_flight=settings.rpc_max_in_flight,
            exchange=settings.rpc_exchange,
            ssl_context=settings.ssl_context(),
            confirms=bool(settings.rpc_confirms),
        )

    async def start(self):
        """Start connecting in the background; calls fail fast until a link is up."""
        self._loop = asyncio.get_running_loop()
        watch_pending(lambda: sum(len(link.pending) for link in self.links) + len(self._waiting))
        for link in self.links:
            link.task = asyncio.create_task(link.run(), name=f"amqp-link-{link.number}")
        if len(self.nodes) > 1:  # a node the links are not on can go too, with calls in flight
            self._node_watch = NodeWatch(self.nodes, self._node_down, self._node_up)
            self._node_watch.start()

    async def wait_connected(self, timeout):
        """For start-up and tests: True once any link is usable."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not self.connected:
            if asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    async def close(self):
        self.closing = True
        if self._resend_timer is not None:
            self._resend_timer.cancel()
        if self._node_watch is not None:
            await self._node_watch.close()
        for link in self.links:
            link.close()
        await asyncio.gather(*(link.task for link in self.links if link.task), return_exceptions=True)

    @property
    def connected(self):
        return any(link.usable for link in self.links)

    def stats(self):
        return {
            "in_flight": self.in_flight,
            "pending": sum(len(link.pending) for link in self.links) + len(self._waiting),
            "republished": self.republished,
            "resent": self.resent,
            "channels_renewed": self.channels_renewed,
            "unsettled": self._loop is not None and self._loop.time() < self._unsettled_until,
            "links_up": sum(link.usable for link in self.links),
            "late_replies": self.late_replies,
            "connections_made": self.connections_made,
        }

    def _pick_link(self):
        for link in self.links:
            if link.usable:
                return link
        raise NotConnected("No connection to the broker.")

    def rescue(self, calls):
        """The calls of a lost link: each is republished on a link that is up, with the time it
        has left, or waits for one to come up (adopt_waiting) until its timer ends it."""
        for call in calls:
            if call.future.done():
                continue
            if self.closing:
                call.future.set_exception(NotConnected("The connection to the broker was lost."))
                continue
            call.link = None
            self._waiting[call.correlation_id] = call
        self.adopt_waiting()

    def adopt_waiting(self):
        """Republish the calls waiting for a link on the first one up (same correlation ids)."""
        if not self._waiting:
            return
        link = next((link for link in self.links if link.usable), None)
        if link is None:
            return
        now = self._loop.time()
        waiting, self._waiting = self._waiting, {}
        for call in waiting.values():
            remaining = call.deadline - now
            if call.future.done() or remaining <= 0:
                continue  # its timer is about to fire, or did
            link.send(call, self.exchange, remaining)
            self._watch(call, now, restart=True)
            self.republished += 1
            REPUBLISHED.inc()
        log.info("republished %d calls on broker connection %d", len(waiting), link.number)

    def unsettle(self, why):
        """A node was lost: for UNSETTLED_FOR seconds, every call sent, and every call waiting now
        on any link, goes out again while it gets no answer (see the module's docstring)."""
        now = self._loop.time()
        if now >= self._unsettled_until:
            log.info("%s: calls unanswered after %.0f s are sent again for %.0f s", why, RESEND_EVERY, UNSETTLED_FOR)
        self._unsettled_until = now + UNSETTLED_FOR
        for link in self.links:
            for call in link.pending.values():
                self._watch(call, now)

    def send_again_if_unsettled(self, call):
        """A nacked publish of `call`. Within UNSETTLED_FOR of a node's loss the broker nacks what
        it sends to a quorum queue still electing its leader: the call goes out again, as a copy
        the broker dropped would (True). Otherwise its queue is full (False)."""
        now = self._loop.time()
        if now >= self._unsettled_until:
            return False
        self._watch(call, now)
        return True

    def _watch(self, call, now, restart=False):
        """Send `call` again RESEND_EVERY after `now` if it is still unanswered; `restart` for a
        call just published anew (its link was lost), which starts its wait over."""
        if restart or call.correlation_id not in self._resending:
            call.resend_at = now + RESEND_EVERY
            self._resending[call.correlation_id] = call
        if self._resend_timer is None and not self.closing:
            self._resend_timer = self._loop.call_later(RESEND_TICK, self._resend)

    def _resend(self):
        """Send the watched calls that are due again, on the link connected last; each round with
        copies to send first renews the links' publishing channels opened over RESEND_EVERY ago
        (docs/design.md, "Renewed publishing channels")."""
        self._resend_timer = None
        usable = [link for link in self.links if link.usable]
        link = max(usable, key=lambda link: link.connected_at) if usable else None
        now = self._loop.time()
        renewed = False
        for correlation_id, call in list(self._resending.items()):
            remaining = call.deadline - now
            if call.future.done() or remaining <= 0:
                del self._resending[correlation_id]  # answered or expired (its timer ends it)
            elif link is not None and call.link is not None and call.resend_at <= now:
                # (a call whose link was lost waits for one to come up: adopt_waiting sends it)
                if not renewed:  # before the round's first copy
                    self._renew_old_channels(usable, now)
                    renewed = True
                call.link.pending.pop(correlation_id, None)
                link.send(call, self.exchange, remaining)
                call.resend_at = now + RESEND_EVERY
                self.resent += 1
                REPUBLISHED.inc()
        if self._resending and not self.closing:
            self._resend_timer = self._loop.call_later(RESEND_TICK, self._resend)

    def _renew_old_channels(self, links, now):
        for each in links:
            if now - each.connection.publish_channel_opened >= RESEND_EVERY:
                each.connection.renew_publish_channel()
                self.channels_renewed += 1

    def node_up(self, index):
        """Whether node `index` answers, as far as the watch knows (True without a watch)."""
        return self._node_watch is None or self._node_watch.up[index]

    def _node_down(self, index):
        node = self.nodes[index]
        self.unsettle(f"broker node {node.host}:{node.port} is silent or gone")
        for link in self.links:
            if link.node == index:
                link.abandon("its node is silent or gone")

    def _node_up(self, index):
        # A node coming back (thawed, or a partition healed) moves queue leaders and ends stale
        # consumers: a window like a loss.
        node = self.nodes[index]
        self.unsettle(f"broker node {node.host}:{node.port} is back")

    async def call(self, rpc_call, caller):
        """`rpc_call.service.method(**rpc_call.kwargs)`; its result, or the error it raised."""
        if self.in_flight >= self.max_in_flight:
            raise Overloaded("Too many calls in flight.")
        link = self._pick_link()
        correlation_id = f"{getrandbits(128):032x}"  # unique, not secret: no syscall for it
        loop = self._loop
        headers = {
            "nameko.request_id": caller.request_id,
            "nameko.call_id_stack": [f"gateway.{caller.operation}.{correlation_id}"],
        }
        if TRACING:  # the RPC span's context, beside nameko's (gateway/tracing.py)
            trace_headers(headers)
        headers = encode_headers(headers)
        body = orjson.dumps({"args": [], "kwargs": rpc_call.kwargs})
        timeout = rpc_call.timeout or self.timeout
        now = loop.time()
        waiting = _Call(
            correlation_id,
            loop.create_future(),
            f"{rpc_call.service}.{rpc_call.method}",
            body,
            headers,
            now + timeout,
            link,
        )
        self.in_flight += 1
        timer = loop.call_later(timeout, self._expire, waiting)
        try:
            link.send(waiting, self.exchange, timeout)
            if now < self._unsettled_until:
                self._watch(waiting, now)
            reply = await waiting.future
        finally:
            self.in_flight -= 1
            timer.cancel()
            self._forget(waiting)
        return decode_reply(reply)

    def _forget(self, call):
        if self._resending:
            self._resending.pop(call.correlation_id, None)
        if call.link is not None:
            call.link.pending.pop(call.correlation_id, None)
        else:
            self._waiting.pop(call.correlation_id, None)

    def _expire(self, call):
        self._forget(call)
        if not call.future.done():
            call.future.set_exception(RpcTimeout("The service did not answer in time."))
