"""The ASGI gateway's RPC client: nameko's wire protocol over a small pool of AMQP connections.

Each connection ("link") has one reply queue, declared once when it connects, and any number
of calls in flight on it, told apart by correlation id. A call is one publish; its reply is
matched in a dict and parsed once, by the caller. Calls go on the first link that is up; the
others stand by, connected, so that a lost connection fails over at once. Spreading calls over
the links would buy nothing (one event loop does all the work) and cost a write per link per
loop turn, and the broker more work per message (BENCHMARKS.md). A connection that dies without
a word (a network partition) is noticed by heartbeats: every 5 s, given up after 20 s of silence;
until then its calls time out. Failure modes, each ending the call at once:

* no reply within the timeout -> RpcTimeout; a reply arriving later finds no entry and is dropped;
* the service has no queue -> the broker returns the mandatory publish -> UnknownService;
* the connection goes -> every call pending on it gets NotConnected, and the link reconnects
  by itself with capped, jittered exponential backoff; meanwhile calls fail fast;
* more than `max_in_flight` calls waiting -> Overloaded, instead of an unbounded queue.

Request and reply follow nameko 2.x's wire protocol (nameko/rpc.py): requests on the `nameko-rpc` topic
exchange with routing key `<service>.<method>`, JSON `{"args", "kwargs"}`, context in
`nameko.*` headers; replies `{"result", "error"}`, errors rebuilt with nameko's own registry.
"""

import asyncio
import logging
import random
import uuid
from random import getrandbits

import orjson
from nameko.exceptions import deserialize

from gateway.metrics import BROKER_CONNECTIONS, LATE_REPLIES, watch_pending
from gateway.rpc.amqp import AmqpConnection, AmqpParams, ConnectionLost, encode_headers
from gateway.rpc.calls import NotConnected, Overloaded, RpcTimeout, UnknownService
from gateway.tracing import ENABLED as TRACING
from gateway.tracing import trace_headers

log = logging.getLogger(__name__)

BACKOFF_FIRST, BACKOFF_MAX = 0.1, 5.0


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


class _Link:
    """One AMQP connection, its reply queue, and the calls waiting on it."""

    def __init__(self, client, number):
        self.client, self.number = client, number
        self.connection = None
        self.reply_to = None
        self.pending = {}  # correlation id -> future of the reply body
        self.lost = asyncio.Event()
        self.task = None

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
                log.warning("broker connection %d failed: %r", self.number, exc)
            attempt += 1
            await asyncio.sleep(backoff(attempt))

    async def _connect(self):
        self.lost.clear()
        reply_to = uuid.uuid4().hex
        connection = await AmqpConnection.open(self.client.params, self._delivered, self._returned, self._lost)
        try:
            await connection.consume_replies(self.client.exchange, reply_to)
        except BaseException:
            connection.close()
            raise
        if not connection.usable:  # lost in the very read that completed the set-up
            raise ConnectionLost("closed during set-up")
        self.connection, self.reply_to = connection, reply_to
        self.client.connections_made += 1
        BROKER_CONNECTIONS.inc()
        log.info(
            "connected to the broker at %s:%s (link %d)", self.client.params.host, self.client.params.port, self.number
        )

    def _delivered(self, correlation_id, body):
        future = self.pending.pop(correlation_id, None)
        if future is None or future.done():
            self.client.late_replies += 1  # its call timed out or was cancelled: drop it
            LATE_REPLIES.inc()
        else:
            future.set_result(body)

    def _returned(self, correlation_id, reply_text):
        future = self.pending.pop(correlation_id, None)
        if future is not None and not future.done():
            future.set_exception(UnknownService(reply_text))

    def _lost(self, exc):
        if self.connection is not None:
            BROKER_CONNECTIONS.dec()
            if not self.client.closing:
                log.warning("broker connection %d lost: %s", self.number, exc)
        self.connection = None
        pending, self.pending = self.pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(NotConnected("The connection to the broker was lost."))
        self.lost.set()

    def close(self):
        if self.task is not None:
            self.task.cancel()
        if self.connection is not None:
            self.connection.close()


class AsyncRpcClient:
    def __init__(
        self,
        amqp_uri,
        *,
        pool_size=2,
        timeout=10.0,
        max_in_flight=1024,
        exchange="nameko-rpc",
        ssl_context=None,
        connection_name="nameko-travel gateway",
        heartbeat=10,
    ):
        self.params = AmqpParams.from_uri(amqp_uri, ssl_context, connection_name=connection_name, heartbeat=heartbeat)
        self.exchange = exchange
        self.timeout = timeout
        self.max_in_flight = max_in_flight
        self.links = [_Link(self, n) for n in range(pool_size)]
        self.closing = False
        self.in_flight = 0
        self.late_replies = 0
        self.connections_made = 0

    @classmethod
    def from_settings(cls, settings):
        """The client the ASGI gateway runs with (gateway/settings.py)."""
        return cls(
            settings.amqp_uri,
            pool_size=settings.asgi_connections,
            timeout=settings.rpc_timeout,
            max_in_flight=settings.rpc_max_in_flight,
            exchange=settings.rpc_exchange,
            ssl_context=settings.ssl_context(),
        )

    async def start(self):
        """Start connecting in the background; calls fail fast until a link is up."""
        self._loop = asyncio.get_running_loop()
        watch_pending(lambda: sum(len(link.pending) for link in self.links))
        for link in self.links:
            link.task = asyncio.create_task(link.run(), name=f"amqp-link-{link.number}")

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
        for link in self.links:
            link.close()
        await asyncio.gather(*(link.task for link in self.links if link.task), return_exceptions=True)

    @property
    def connected(self):
        return any(link.usable for link in self.links)

    def stats(self):
        return {
            "in_flight": self.in_flight,
            "pending": sum(len(link.pending) for link in self.links),
            "links_up": sum(link.usable for link in self.links),
            "late_replies": self.late_replies,
            "connections_made": self.connections_made,
        }

    def _pick_link(self):
        for link in self.links:
            if link.usable:
                return link
        raise NotConnected("No connection to the broker.")

    async def call(self, call, caller):
        """`call.service.method(**call.kwargs)`; its result, or the error it raised."""
        if self.in_flight >= self.max_in_flight:
            raise Overloaded("Too many calls in flight.")
        link = self._pick_link()
        correlation_id = f"{getrandbits(128):032x}"  # unique, not secret: no syscall for it
        loop = self._loop
        future = loop.create_future()
        link.pending[correlation_id] = future
        headers = {
            "nameko.request_id": caller.request_id,
            "nameko.call_id_stack": [f"gateway.{caller.operation}.{correlation_id}"],
        }
        if TRACING:  # the RPC span's context, beside nameko's (gateway/tracing.py)
            trace_headers(headers)
        headers = encode_headers(headers)
        body = orjson.dumps({"args": [], "kwargs": call.kwargs})
        timeout = call.timeout or self.timeout
        self.in_flight += 1
        timer = loop.call_later(timeout, self._expire, link, correlation_id)
        try:
            link.connection.publish(
                self.exchange,
                f"{call.service}.{call.method}",
                body,
                correlation_id,
                link.reply_to,
                headers,
                str(int(timeout * 1000)),
            )
            reply = await future
        finally:
            self.in_flight -= 1
            timer.cancel()
            link.pending.pop(correlation_id, None)
        return decode_reply(reply)

    @staticmethod
    def _expire(link, correlation_id):
        future = link.pending.pop(correlation_id, None)
        if future is not None and not future.done():
            future.set_exception(RpcTimeout("The service did not answer in time."))
