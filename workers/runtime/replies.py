"""Answering an RPC request: its reply and its acknowledgement, in one write on its own connection.

Instead of nameko's Responder (a pooled producer per reply, the result serialised twice, a wait
for the publisher confirm, then the ack in a second write), the reply (as nameko writes it, so
every nameko caller understands it) and the ack go out in one `sendall` on the connection the
request came in on, shared by the other answers that end in the same turn of eventlet's hub
(`Writes._send_batched`). The reply's frames are built here (`reply_frames`, byte for byte
py-amqp's). When the connection is closed or the write fails, the entrypoint answers through
nameko's responder instead (entrypoint.py).

What it saves, its failure modes (at least once, as nameko's) and flow control: docs/design.md,
"A reply and its ack in one write".
"""

import errno
import struct
from contextlib import contextmanager
from dataclasses import dataclass

import orjson
from amqp.exceptions import AMQPError
from eventlet import getcurrent, sleep
from eventlet.event import Event
from eventlet.semaphore import Semaphore
from kombu.exceptions import OperationalError
from nameko.exceptions import UnserializableValueError, serialize

JSON = "application/json"
# the connection is gone, or going (EOFError: py-amqp's read of a socket closed under it, as
# renewing kombu's pooled connections does: workers/runtime/publishing.py)
BROKEN = (OSError, EOFError, OperationalError, AMQPError)

# AMQP 0-9-1 framing (section 4.2.3) and basic properties (4.2.6.1, flags in property order)
_frame_prefix = struct.Struct(">BHI").pack  # type, channel, size
_method_args = struct.Struct(">HHH").pack  # class, method, reserved-1
_content_header = struct.Struct(">HHQH").pack  # class, weight, body size, property flags
_FRAME_END = b"\xce"
# a basic.ack method frame: its prefix (type 1, channel, size 13), class, method, delivery tag, bits
_ack_frame = struct.Struct(">BHIHHQB").pack
_CONTENT_TYPE, _CONTENT_ENCODING, _DELIVERY_MODE, _CORRELATION_ID = 0x8000, 0x4000, 0x1000, 0x0400
_REPLY_FLAGS = _CONTENT_TYPE | _CONTENT_ENCODING | _DELIVERY_MODE
_REPLY_PROPERTIES = b"\x10" + JSON.encode() + b"\x05utf-8" + b"\x01"  # delivery mode 1: transient


def reply_body(result, exc_info):
    """The reply as nameko writes it, JSON-encoded once: {"result": ..., "error": ...}."""
    if exc_info is not None:
        return orjson.dumps({"result": None, "error": serialize(exc_info[1])})
    try:
        return orjson.dumps({"result": result, "error": None})
    except TypeError:
        return orjson.dumps({"result": None, "error": serialize(UnserializableValueError(result))})


def reply_and_ack(message, exchange, body):
    """Publish `body` to the request's reply_to (if it has one) and acknowledge the request, in
    one write. False, with nothing sent, when the request's connection is closed already (the
    broker has put the request back in its queue). Raises BROKEN when the write fails."""
    channel = message.channel
    connection = channel.connection
    if not connection:
        return False
    properties = message.properties
    reply_to = properties.get("reply_to")
    writes = writes_of(connection.transport)
    with writes.together():
        if reply_to:
            # Not py-amqp's basic_publish: it first reads any pending "connection blocked" notice
            # from the socket, and this socket has a reader already (nameko's consumer
            # greenthread; eventlet forbids a second one). Nor its send_method: its general frame
            # writer takes about four times as long (bench/worker_parts.py).
            writes(
                reply_frames(
                    channel.channel_id, connection.frame_max, exchange, reply_to, properties.get("correlation_id"), body
                )
            )
            connection.bytes_sent += 1  # as py-amqp counts a frame written, for its heartbeat check
        if message.acknowledged or channel.no_ack_consumers:  # kombu's checks and errors, kombu's way
            message.ack()
        else:
            # Not kombu's message.ack(): py-amqp's frame writer takes several times as long as
            # this frame's one pack (BENCHMARKS.md, "2026-12-07 (evening): acks built by hand,
            # greenthreads kept")
            writes(ack_frame(channel.channel_id, message.delivery_tag))
            connection.bytes_sent += 1
            message._state = "ACK"  # as kombu's ack marks it: a second ack raises, as it would
    return True


def ack_frame(channel_id, delivery_tag):
    """The basic.ack of one delivery (not `multiple`), byte for byte as py-amqp writes it."""
    return _ack_frame(1, channel_id, 13, 60, 80, delivery_tag, 0) + _FRAME_END


def reply_frames(channel_id, frame_max, exchange, routing_key, correlation_id, body):
    """The basic.publish of a JSON reply, its content header and body frames, byte for byte as
    py-amqp's frame writer writes them for a Message with these properties (a test compares)."""
    method = _method_args(60, 40, 0) + _shortstr(exchange) + _shortstr(routing_key) + b"\x00"  # not mandatory
    properties, flags = _REPLY_PROPERTIES, _REPLY_FLAGS
    if correlation_id is not None:
        properties += _shortstr(correlation_id)
        flags |= _CORRELATION_ID
    header = _content_header(60, 0, len(body), flags) + properties
    frames = [_frame_prefix(1, channel_id, len(method)), method, _FRAME_END]
    frames += (_frame_prefix(2, channel_id, len(header)), header, _FRAME_END)
    chunk = frame_max - 8  # py-amqp's body frame size
    for start in range(0, len(body), chunk):
        piece = body[start : start + chunk]
        frames += (_frame_prefix(3, channel_id, len(piece)), piece, _FRAME_END)
    return b"".join(frames)


def _shortstr(value):
    raw = value.encode() if isinstance(value, str) else value
    return bytes((len(raw),)) + raw  # a request's own reply_to and correlation id: under 256 bytes


class Writes:
    """Installed as a py-amqp transport's `_write` (its socket's sendall).

    Every write goes out whole: nameko's acks, kombu's heartbeats and these replies are written
    by different greenthreads, and a green sendall yields when the socket buffer is full, which
    would let another frame into the middle of this one. Writes a greenthread makes inside its
    `together()` block are collected and sent as one. The block may yield (py-amqp serialises
    frame building with a lock), so each greenthread collects into its own list.
    """

    def __init__(self, transport):
        self._transport = transport
        self._sendall = transport._write
        self._lock = Semaphore()
        self._held = {}  # greenthread -> the writes of its together() block
        self._batch = None  # the blocks' writes a leader is collecting (_send_batched)

    def __call__(self, data):
        held = self._held.get(getcurrent())
        if held is not None:
            # py-amqp hands over a view of its frame buffer, which the next frame overwrites
            held.append(bytes(data))
            return
        with self._lock:
            if self._transport.sock is None:  # closed meanwhile (TLS would raise AttributeError)
                raise OSError(errno.ENOTCONN, "the connection is closed")
            self._sendall(data)

    @contextmanager
    def together(self):
        """Collect this greenthread's writes in the block and send them as one, with those of the
        other blocks that end in the same turn of eventlet's hub (`_send_batched`)."""
        current = getcurrent()
        self._held[current] = held = []
        try:
            yield
        finally:
            del self._held[current]
        if held:
            self._send_batched(b"".join(held))

    def _send_batched(self, data):
        """Send `data` in one write with that of the other blocks ending now; raise what the write
        raised. The first block to end leads: it lets the greenthreads made ready in this turn of
        the hub run (workers whose Redis replies came in the same poll, typically), then writes
        everything they added meanwhile and tells them how it went. Under load a write carries
        several answers, and the broker reads them in one go."""
        batch = self._batch
        if batch is not None:  # a leader is collecting: its write carries this too
            batch.parts.append(data)
            failure = batch.done.wait()
            if failure is not None:
                raise failure
            return
        self._batch = batch = _Batch([data], Event())
        try:
            try:
                sleep(0)  # to the back of the hub's queue: every greenthread ready now runs first
            finally:
                self._batch = None
            self._transport.write(b"".join(batch.parts))  # py-amqp's: it marks the transport broken on errors
        except BaseException as exc:
            batch.done.send(exc if isinstance(exc, BROKEN) else OSError(errno.EIO, f"the write failed: {exc!r}"))
            raise
        batch.done.send(None)


@dataclass
class _Batch:
    parts: list  # the writes to send together, in the order their blocks ended
    done: Event  # sent None once written, or the exception the write raised


def writes_of(transport):
    writes = transport._write
    if not isinstance(writes, Writes):
        writes = transport._write = Writes(transport)
    return writes
