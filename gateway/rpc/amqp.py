"""A lean asyncio AMQP 0-9-1 connection, made for RPC the way nameko does it.

Why not aiormq or aio-pika: both are general clients, and on the RPC hot path their
generality costs more than the rest of the gateway together (a StreamReader await and a
lock per frame, an object graph and a task per delivered message; a first gateway on
aiormq spent 650-830 us of CPU per proxied request). The gateway needs very little of
AMQP: one channel, a few declarations at connect time, publishing, and consuming its own
reply queue without acks (plus, after a broker node is lost, a fresh channel to publish on:
`renew_publish_channel`). This module does exactly that on an `asyncio.Protocol`:

* the handshake and the rare frames (Close, Tune, *-Ok) are built and parsed by pamqp,
  the maintained codec aiormq itself uses;
* the hot path is written out here: a publish is assembled into one bytes object; the
  publishes of one turn of the event loop go out in one `transport.write` (on loopback a
  send costs as much CPU as the rest of a call, so concurrent calls share it); an incoming
  reply is sliced out of the receive buffer, only its correlation id is read from the
  properties, and its body is handed over as bytes to be parsed once, by the caller.
"""

import asyncio
import logging
import ssl as ssl_module
import struct
import time
import urllib.parse
from collections import deque
from dataclasses import dataclass

from pamqp import commands
from pamqp import frame as pamqp_frame
from pamqp import header as pamqp_header
from pamqp import heartbeat as pamqp_heartbeat

log = logging.getLogger(__name__)

CHANNEL = 1  # the reply consumer's, and the first to publish on
CHANNEL_MAX = 64  # publishing channels are renewed in turn, at most two open at a time
FRAME_METHOD, FRAME_HEADER, FRAME_BODY = 1, 2, 3
FRAME_END = 0xCE
FRAME_HEADER_SIZE = 7
BASIC_DELIVER = (60, 60)
BASIC_RETURN = (60, 50)
BASIC_ACK, BASIC_NACK = (60, 80), (60, 120)
FRAME_MAX = 131072

_frame_prefix = struct.Struct(">BHI").pack
_unpack_frame_prefix = struct.Struct(">BHI").unpack_from
_unpack_ids = struct.Struct(">HH").unpack_from
_unpack_body_size_flags = struct.Struct(">QH").unpack_from
_unpack_long = struct.Struct(">I").unpack_from
_unpack_confirm = struct.Struct(">QB").unpack_from  # delivery tag, bits (the first: multiple)

# Basic properties, in the order the flags are numbered (AMQP 0-9-1, 4.2.6.1)
_CONTENT_TYPE, _CONTENT_ENCODING, _HEADERS = 0x8000, 0x4000, 0x2000
_DELIVERY_MODE, _PRIORITY, _CORRELATION_ID, _REPLY_TO, _EXPIRATION = 0x1000, 0x0800, 0x0400, 0x0200, 0x0100
_TIMESTAMP = 0x0040
_timestamp = struct.Struct(">Q").pack


class ConnectionLost(Exception):
    """The connection closed or failed; `args[0]` says why."""


@dataclass(frozen=True)
class AmqpParams:
    host: str
    port: int
    vhost: str
    username: str
    password: str
    ssl: ssl_module.SSLContext | None = None
    heartbeat: int = 60
    connect_timeout: float = 5.0
    connection_name: str = "nameko-travel gateway"
    timestamps: bool = False  # the AMQP `timestamp` on each request: the workers' queue wait in traces
    confirms: bool = True  # publisher confirms, to hear of the requests the broker refuses (nacks)

    @classmethod
    def from_uri(cls, uri, ssl_context=None, **options):
        """amqp://user:pass@host:port/vhost (amqps:// for TLS, with `ssl_context` or the system CAs)."""
        parts = urllib.parse.urlsplit(uri)
        if parts.scheme not in ("amqp", "amqps"):
            raise ValueError("an AMQP URI starts with amqp:// or amqps://")
        secure = parts.scheme == "amqps"
        if secure and ssl_context is None:
            ssl_context = ssl_module.create_default_context()
        vhost = urllib.parse.unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
        return cls(
            host=parts.hostname or "localhost",
            port=parts.port or (5671 if secure else 5672),
            vhost=vhost,
            username=urllib.parse.unquote(parts.username or "guest"),
            password=urllib.parse.unquote(parts.password or "guest"),
            ssl=ssl_context if secure else None,
            **options,
        )


def _shortstr(value):
    raw = value.encode() if isinstance(value, str) else value
    return bytes((len(raw),)) + raw


def _longstr(value):
    raw = value.encode()
    return struct.pack(">I", len(raw)) + raw


def encode_headers(headers):
    """An AMQP field table of str -> str | list[str]: all nameko context headers need."""
    out = []
    for key, value in headers.items():
        if isinstance(value, str):
            out.append(_shortstr(key) + b"S" + _longstr(value))
        else:
            items = b"".join(b"S" + _longstr(item) for item in value)
            out.append(_shortstr(key) + b"A" + struct.pack(">I", len(items)) + items)
    table = b"".join(out)
    return struct.pack(">I", len(table)) + table


class _Incoming:
    """A message whose content header and body frames are still being read."""

    __slots__ = ("returned", "reply_text", "correlation_id", "chunks", "remaining")

    def __init__(self, returned=False, reply_text=None):
        self.returned, self.reply_text = returned, reply_text
        self.correlation_id, self.chunks, self.remaining = None, [], 0


class AmqpConnection(asyncio.Protocol):
    """One connection with one channel. `on_delivery(correlation_id, body)` gets each message
    consumed; `on_return(correlation_id, reply_text)` each mandatory publish the broker could not
    route; `on_nack(correlation_id)` each publish it refused (publisher confirms: a queue at its
    length limit with `reject-publish`); `on_lost(exc)` is called once when the connection ends,
    for whatever reason. Only nacks are acted on: nothing waits for the acks."""

    def __init__(self, params, on_delivery, on_return, on_lost, on_nack=None):
        self.params = params
        self.on_delivery, self.on_return, self.on_lost = on_delivery, on_return, on_lost
        self.on_nack = on_nack or (lambda correlation_id: None)
        self._unconfirmed = {}  # channel -> {delivery tag: correlation id}, in publishing order
        self._published = {}  # channel -> publishes on it so far (the last delivery tag)
        self.transport = None
        self.loop = None
        self.frame_max = FRAME_MAX
        self.channel_max = 1
        self.blocked = False  # the broker asked publishers to pause (a resource alarm)
        self._buffer = bytearray()
        self._waiter = None  # a future for the next method frame, during set-up
        self._unclaimed = deque()  # method frames that arrived before their waiter (set-up only)
        self._ready = False
        self._content = None  # the delivery or return whose header and body are being read
        self._closed = False
        self._heartbeat = None
        self._received = True  # data seen since the last heartbeat check
        self._silent = 0  # heartbeat checks in a row that saw nothing
        self._publish_prefixes = {}  # routing key -> the basic.publish frame, on `publish_channel`
        self.publish_channel = CHANNEL
        self.publish_channel_opened = 0.0  # loop time
        self._timestamps = params.timestamps
        self._outgoing = []  # publishes of this turn of the event loop, written by _flush

    # -- set-up ---------------------------------------------------------------

    @classmethod
    async def open(cls, params, on_delivery, on_return, on_lost, on_nack=None):
        loop = asyncio.get_running_loop()
        _, connection = await asyncio.wait_for(
            loop.create_connection(
                lambda: cls(params, on_delivery, on_return, on_lost, on_nack), params.host, params.port, ssl=params.ssl
            ),
            params.connect_timeout,
        )
        try:
            await asyncio.wait_for(connection._handshake(), params.connect_timeout)
        except BaseException as exc:  # (a frozen node completes the TCP handshake, then says nothing)
            connection.abandon(ConnectionLost(f"set-up did not finish: {exc!r}"))
            raise
        return connection

    def connection_made(self, transport):
        self.transport = transport
        self.loop = asyncio.get_running_loop()
        transport.write(pamqp_header.ProtocolHeader().marshal())

    async def _handshake(self):
        await self._expect(commands.Connection.Start)
        response = f"\0{self.params.username}\0{self.params.password}"
        properties = {
            "product": "nameko-travel gateway",
            "connection_name": self.params.connection_name,
            "capabilities": {
                "authentication_failure_close": True,
                "connection.blocked": True,
                "consumer_cancel_notify": True,
            },
        }
        self._send(
            commands.Connection.StartOk(
                client_properties=properties, mechanism="PLAIN", response=response, locale="en_US"
            ),
            channel=0,
        )
        tune = await self._expect(commands.Connection.Tune)
        self.frame_max = min(tune.frame_max or FRAME_MAX, FRAME_MAX)
        heartbeat = min(tune.heartbeat, self.params.heartbeat) if tune.heartbeat else self.params.heartbeat
        self.channel_max = min(tune.channel_max or CHANNEL_MAX, CHANNEL_MAX)
        self._send(
            commands.Connection.TuneOk(channel_max=self.channel_max, frame_max=self.frame_max, heartbeat=heartbeat),
            channel=0,
        )
        self._send(commands.Connection.Open(virtual_host=self.params.vhost), channel=0)
        await self._expect(commands.Connection.OpenOk)
        self._send(commands.Channel.Open())
        await self._expect(commands.Channel.OpenOk)
        if self.params.confirms:
            self._send(commands.Confirm.Select())
            await self._expect(commands.Confirm.SelectOk)
            self._unconfirmed[CHANNEL], self._published[CHANNEL] = {}, 0
        self.publish_channel_opened = self.loop.time()
        if heartbeat:
            self._heartbeat = self.loop.call_later(heartbeat / 2, self._beat, heartbeat / 2)

    async def rpc(self, method, reply_type):
        """Send a synchronous method on the channel and wait for its reply (set-up only)."""
        self._send(method)
        return await self._expect(reply_type)

    async def _expect(self, reply_type):
        if self._unclaimed:  # it came before anyone waited (Connection.Start can)
            reply = self._unclaimed.popleft()
        else:
            self._waiter = self.loop.create_future()
            try:
                reply = await self._waiter
            finally:
                self._waiter = None
        if not isinstance(reply, reply_type):
            raise ConnectionLost(f"expected {reply_type.__name__}, got {type(reply).__name__}")
        return reply

    def _send(self, method, channel=CHANNEL):
        self.transport.write(pamqp_frame.marshal(method, channel))

    async def consume_replies(self, exchange, routing_key):
        """Declare the exchange as nameko does, and a reply queue of this connection's own
        (exclusive: the broker deletes it with the connection), bound by `routing_key`."""
        await self.rpc(
            commands.Exchange.Declare(exchange=exchange, exchange_type="topic", durable=True),
            commands.Exchange.DeclareOk,
        )
        queue = f"rpc.reply-gateway-{routing_key}"
        await self.rpc(commands.Queue.Declare(queue=queue, exclusive=True, auto_delete=True), commands.Queue.DeclareOk)
        await self.rpc(
            commands.Queue.Bind(queue=queue, exchange=exchange, routing_key=routing_key), commands.Queue.BindOk
        )
        await self.rpc(commands.Basic.Consume(queue=queue, no_ack=True, exclusive=True), commands.Basic.ConsumeOk)
        self._ready = True

    def renew_publish_channel(self):
        """Publish on a new channel from now on: one that published to a quorum queue before its
        leader died can go on sending to the dead leader, and the broker drops it (docs/design.md,
        "Renewed publishing channels"). The channel replaced is closed, unless it consumes replies."""
        if self.channel_max < 2:  # a broker that allows one channel: keep it
            return
        replaced, channel = self.publish_channel, self.publish_channel % self.channel_max + 1
        if channel == CHANNEL:
            channel += 1
        self._queue(pamqp_frame.marshal(commands.Channel.Open(), channel))
        for old in [number for number in self._unconfirmed if number not in (replaced, CHANNEL)]:
            del self._unconfirmed[old], self._published[old]  # closed already: its confirms came or never will
        if self.params.confirms:
            self._queue(pamqp_frame.marshal(commands.Confirm.Select(nowait=True), channel))
            self._unconfirmed[channel], self._published[channel] = {}, 0
        if replaced != CHANNEL:
            close = commands.Channel.Close(reply_code=200, reply_text="renewed", class_id=0, method_id=0)
            self._queue(pamqp_frame.marshal(close, replaced))
        self.publish_channel, self._publish_prefixes = channel, {}
        self.publish_channel_opened = self.loop.time()

    def _queue(self, data):
        """Send `data` with this turn's publishes, after those queued before it."""
        if not self._outgoing:
            self.loop.call_soon(self._flush)
        self._outgoing.append(data)

    # -- the hot path ---------------------------------------------------------

    def publish(self, exchange, routing_key, body, correlation_id, reply_to, headers_table, expiration):
        """Publish a JSON request, mandatory, as nameko expects it: one write to the socket.
        `expiration` (milliseconds, as text) has the broker drop the request if no worker took it
        by then: its caller has stopped waiting, so running it late would only do unasked work."""
        channel = self.publish_channel
        prefix = self._publish_prefixes.get(routing_key)
        if prefix is None:
            method = struct.pack(">HHH", 60, 40, 0) + _shortstr(exchange) + _shortstr(routing_key) + b"\x01"
            prefix = self._publish_prefixes[routing_key] = (
                _frame_prefix(FRAME_METHOD, channel, len(method)) + method + bytes((FRAME_END,))
            )
        properties = (
            _CONTENT_PROPERTIES
            + headers_table
            + b"\x01"  # delivery mode 1: transient (docs/design.md, "Durability and its trade-offs")
            + _shortstr(correlation_id)
            + _shortstr(reply_to)
            + _shortstr(expiration)
        )
        flags = _PUBLISH_FLAGS
        if self._timestamps:  # seconds, as AMQP has it
            properties += _timestamp(int(time.time()))
            flags |= _TIMESTAMP
        header = struct.pack(">HHQH", 60, 0, len(body), flags) + properties
        outgoing = self._outgoing
        if not outgoing:
            self.loop.call_soon(self._flush)
        if channel in self._published:  # a channel in confirm mode
            tag = self._published[channel] = self._published[channel] + 1  # the broker numbers them from 1
            self._unconfirmed[channel][tag] = correlation_id
        outgoing += (prefix, _frame_prefix(FRAME_HEADER, channel, len(header)), header, b"\xce")
        chunk = self.frame_max - 8
        for start in range(0, len(body), chunk):
            piece = body[start : start + chunk]
            outgoing += (_frame_prefix(FRAME_BODY, channel, len(piece)), piece, b"\xce")

    def _flush(self):
        data, self._outgoing = b"".join(self._outgoing), []
        if not self._closed:
            self.transport.write(data)

    def data_received(self, data):
        self._received = True
        buffer = self._buffer
        buffer += data
        offset, available = 0, len(buffer)
        try:
            while available - offset >= FRAME_HEADER_SIZE:
                frame_type, channel, size = _unpack_frame_prefix(buffer, offset)
                end = offset + FRAME_HEADER_SIZE + size
                if end >= available:
                    break
                if buffer[end] != FRAME_END:
                    raise ConnectionLost("malformed frame from the broker")
                self._frame(frame_type, buffer, offset, end)
                offset = end + 1
        except ConnectionLost as exc:
            self._fail(exc)
            return
        del buffer[:offset]

    def _frame(self, frame_type, buffer, offset, end):
        start = offset + FRAME_HEADER_SIZE
        if frame_type == FRAME_BODY:
            content = self._content
            content.chunks.append(bytes(buffer[start:end]))
            content.remaining -= end - start
            if content.remaining <= 0:
                self._content_complete()
        elif frame_type == FRAME_HEADER:
            self._content_header(buffer, start)
        elif frame_type == FRAME_METHOD:
            ids = _unpack_ids(buffer, start)
            if ids == BASIC_DELIVER:
                self._content = _Incoming()
            elif ids == BASIC_ACK or ids == BASIC_NACK:
                self._confirmed(
                    _unpack_ids(buffer, offset + 1)[0], *_unpack_confirm(buffer, start + 4), ids == BASIC_NACK
                )
            elif ids == BASIC_RETURN:
                returned = pamqp_frame.unmarshal(bytes(buffer[offset : end + 1]))[2]
                self._content = _Incoming(returned=True, reply_text=returned.reply_text)
            else:
                self._method(pamqp_frame.unmarshal(bytes(buffer[offset : end + 1]))[2])
        # heartbeats need nothing: any data counts as a sign of life

    def _confirmed(self, channel, tag, bits, refused):
        """The broker took (ack) or refused (nack) publishes on `channel`: `tag`, or all up to it."""
        unconfirmed = self._unconfirmed.get(channel)
        if not unconfirmed:
            return
        if bits & 1:  # multiple
            settled = []
            while unconfirmed and (first := next(iter(unconfirmed))) <= tag:
                settled.append(unconfirmed.pop(first))
        else:
            settled = [unconfirmed.pop(tag)] if tag in unconfirmed else []
        if refused:
            for correlation_id in settled:
                self.on_nack(correlation_id)

    def _content_header(self, buffer, start):
        body_size, flags = _unpack_body_size_flags(buffer, start + 4)
        position = start + 14
        correlation_id = None
        if flags & _CONTENT_TYPE:
            position += 1 + buffer[position]
        if flags & _CONTENT_ENCODING:
            position += 1 + buffer[position]
        if flags & _HEADERS:
            position += 4 + _unpack_long(buffer, position)[0]
        if flags & _DELIVERY_MODE:
            position += 1
        if flags & _PRIORITY:
            position += 1
        if flags & _CORRELATION_ID:
            length = buffer[position]
            correlation_id = buffer[position + 1 : position + 1 + length].decode()
        content = self._content
        content.correlation_id, content.remaining = correlation_id, body_size
        if body_size == 0:
            self._content_complete()

    def _content_complete(self):
        content, self._content = self._content, None
        if content.returned:
            self.on_return(content.correlation_id, content.reply_text)
        else:
            chunks = content.chunks
            self.on_delivery(content.correlation_id, chunks[0] if len(chunks) == 1 else b"".join(chunks))

    def _method(self, method):
        if isinstance(method, commands.Connection.Close):
            self.transport.write(pamqp_frame.marshal(commands.Connection.CloseOk(), 0))
            self._fail(ConnectionLost(f"closed by the broker: {method.reply_code} {method.reply_text}"))
        elif isinstance(method, commands.Channel.Close):
            self._fail(ConnectionLost(f"channel closed by the broker: {method.reply_code} {method.reply_text}"))
        elif isinstance(method, commands.Basic.Cancel):
            self._fail(ConnectionLost("the broker cancelled the reply consumer"))
        elif isinstance(method, commands.Connection.Blocked):
            log.warning("broker blocked publishing: %s", method.reason)
            self.blocked = True
        elif isinstance(method, commands.Connection.Unblocked):
            log.info("broker unblocked publishing")
            self.blocked = False
        elif self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(method)
        elif not self._ready:
            self._unclaimed.append(method)
        else:
            log.debug("ignored %s", method.name)

    # -- liveness and ending --------------------------------------------------

    def _beat(self, interval):
        """Every half heartbeat: send one, and give up on a broker silent for two heartbeats
        (four half-intervals in a row with nothing received), as AMQP 0-9-1 prescribes."""
        if self._closed:
            return
        self._silent = 0 if self._received else self._silent + 1
        if self._silent >= 4:
            self.abandon(ConnectionLost("missed heartbeats from the broker"))
            return
        self._received = False
        self.transport.write(_HEARTBEAT)
        self._heartbeat = self.loop.call_later(interval, self._beat, interval)

    def close(self):
        """Close politely (Connection.Close), then the socket."""
        if not self._closed and self.transport is not None and not self.transport.is_closing():
            self.transport.write(
                pamqp_frame.marshal(
                    commands.Connection.Close(reply_code=200, reply_text="bye", class_id=0, method_id=0), 0
                )
            )
        self._fail(ConnectionLost("closed by the gateway"))

    def abandon(self, exc):
        """Drop a connection to a broker that went silent: no goodbye, no flushing of what it
        will never read (a close would hold the socket until it did), `on_lost(exc)` at once."""
        self._fail(exc, abort=True)

    def connection_lost(self, exc):
        self._fail(ConnectionLost(f"connection lost: {exc}" if exc else "connection closed"))

    def _fail(self, exc, abort=False):
        if self._closed:
            return
        self._closed = True
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)
        if self.transport is not None:
            self.transport.abort() if abort else self.transport.close()
        self.on_lost(exc)

    @property
    def usable(self):
        return not self._closed and not self.blocked


_CONTENT_PROPERTIES = _shortstr("application/json") + _shortstr("utf-8")
_PUBLISH_FLAGS = (
    _CONTENT_TYPE | _CONTENT_ENCODING | _HEADERS | _DELIVERY_MODE | _CORRELATION_ID | _REPLY_TO | _EXPIRATION
)
_HEARTBEAT = pamqp_frame.marshal(pamqp_heartbeat.Heartbeat(), 0)
