"""How the workers answer (workers/runtime/replies.py): the reply and the request's ack leave in
one write on the request's own connection, and no other frame can get into the middle of it.

Runs under `nameko test` (eventlet monkey-patched), against the test broker.
"""

import errno
import itertools
import struct
from types import SimpleNamespace

import eventlet
import eventlet.semaphore
import pytest
from kombu.exceptions import MessageStateError
from kombu.message import Message
from nameko.standalone.rpc import ServiceRpcProxy

from workers.runtime import replies
from workers.runtime.entrypoint import rpc

pytestmark = pytest.mark.eventlet  # tests/conftest.py says why

BASIC_PUBLISH, BASIC_ACK = (60, 40), (60, 80)


class EchoService:
    name = "echo_service"

    @rpc
    def echo(self, value):
        return value


def methods_in(data):
    """The (class, method) ids of the AMQP method frames in `data`, in order."""
    found, offset = [], 0
    while offset < len(data):
        frame_type, _, size = struct.unpack_from(">BHI", data, offset)
        if frame_type == 1:
            found.append(struct.unpack_from(">HH", data, offset + 7))
        offset += 7 + size + 1
    return found


@pytest.fixture
def recorded_writes(monkeypatch):
    """Every sendall made through a `Writes`, as the bytes sent."""
    sent = []
    original_init = replies.Writes.__init__

    def recording_init(self, transport):
        original_init(self, transport)
        sendall = self._sendall
        self._sendall = lambda data: (sent.append(bytes(data)), sendall(data))[1]

    monkeypatch.setattr(replies.Writes, "__init__", recording_init)
    return sent


def test_the_reply_and_the_ack_leave_in_one_write(container_factory, worker_config, recorded_writes):
    container_factory(EchoService, worker_config).start()
    with ServiceRpcProxy("echo_service", worker_config, timeout=5) as echo:
        assert echo.echo("first") == "first"  # installs the writer on the consumer's connection
        recorded_writes.clear()
        assert echo.echo("x" * 300_000) == "x" * 300_000  # larger than a frame: several body frames
        assert echo.echo("third") == "third"
    answers = [methods for methods in (methods_in(data) for data in recorded_writes) if methods]  # not heartbeats
    assert answers == [[BASIC_PUBLISH, BASIC_ACK], [BASIC_PUBLISH, BASIC_ACK]]


class FakeTransport:
    """A py-amqp transport's write path, over a sendall that yields to other greenthreads
    half-way through, as a green socket does when its buffer is full."""

    def __init__(self):
        self.received = []
        self.sock = "open"  # py-amqp sets it to None when the connection is closed
        self._write = self._slow_sendall

    def _slow_sendall(self, data):
        data = bytes(data)
        half = len(data) // 2
        self.received.append(data[:half])
        eventlet.sleep(0)
        self.received.append(data[half:])

    def write(self, data):
        self._write(data)


def test_writes_from_two_greenthreads_do_not_interleave():
    transport = FakeTransport()
    writes = replies.writes_of(transport)
    assert replies.writes_of(transport) is writes  # installed once per transport

    def reply():
        with writes.together():
            transport.write(b"P" * 10)
            transport.write(b"A" * 4)

    pool = eventlet.GreenPool()
    pool.spawn(reply)
    pool.spawn(transport.write, b"H" * 8)  # a heartbeat from another greenthread
    pool.waitall()
    assert b"".join(transport.received) in (b"P" * 10 + b"A" * 4 + b"H" * 8, b"H" * 8 + b"P" * 10 + b"A" * 4)


def test_replies_waiting_for_the_frame_lock_still_leave_whole():
    """py-amqp builds every frame under a lock: a reply can wait for it inside its block, while
    another greenthread's write holds it, and a second reply starts meanwhile."""
    transport = FakeTransport()
    writes = replies.writes_of(transport)
    frame_lock = eventlet.semaphore.Semaphore()

    def frame(data):  # py-amqp's write_frame
        with frame_lock:
            transport.write(data)

    def reply(name):
        with writes.together():
            frame(b"P" + name)
            frame(b"A" + name)

    pool = eventlet.GreenPool()
    pool.spawn(frame, b"H" * 8)  # holds the frame lock while its write yields
    pool.spawn(reply, b"1")
    pool.spawn(reply, b"2")
    pool.waitall()
    whole = {b"".join(order) for order in itertools.permutations([b"H" * 8, b"P1A1", b"P2A2"])}
    assert b"".join(transport.received) in whole


def test_views_are_copied_and_a_failed_block_sends_nothing():
    transport = FakeTransport()
    writes = replies.writes_of(transport)
    buffer = bytearray(b"frame-1")
    with writes.together():
        transport.write(memoryview(buffer))
        buffer[:] = b"frame-2"  # py-amqp reuses its frame buffer for the next frame
        transport.write(memoryview(buffer))
    assert b"".join(transport.received) == b"frame-1frame-2"

    transport.received.clear()
    with pytest.raises(RuntimeError), writes.together():
        transport.write(b"half an answer")
        raise RuntimeError("building the reply failed")
    assert transport.received == []


def test_a_write_on_a_closed_connection_is_a_broken_connection():
    transport = FakeTransport()
    writes = replies.writes_of(transport)
    transport.sock = None  # closed by the consumer's greenthread while a reply waited
    with pytest.raises(replies.BROKEN), writes.together():
        transport.write(b"reply")


class CountingTransport(FakeTransport):
    """Its socket's writes, each as one bytes; with `fail`, every write raises it."""

    def __init__(self, fail=None):
        self.writes, self.fail = [], fail
        super().__init__()

    def _slow_sendall(self, data):
        if self.fail is not None:
            raise self.fail
        self.writes.append(bytes(data))
        super()._slow_sendall(data)


def replying(writes, transport, name):
    def reply():
        with writes.together():
            transport.write(b"P" + name)
            transport.write(b"A" + name)

    return reply


def test_blocks_ending_in_the_same_turn_leave_in_one_write():
    transport = CountingTransport()
    writes = replies.writes_of(transport)
    pool = eventlet.GreenPool()
    for name in (b"1", b"2", b"3"):
        pool.spawn(replying(writes, transport, name))
    pool.waitall()
    assert transport.writes == [b"P1A1P2A2P3A3"]  # each block whole, in the order they ended

    replying(writes, transport, b"4")()  # alone: a write of its own, at once
    assert transport.writes[1:] == [b"P4A4"]


def test_a_failed_batched_write_fails_every_block_in_it():
    transport = CountingTransport(fail=OSError(errno.EPIPE, "broken pipe"))
    writes = replies.writes_of(transport)
    pool = eventlet.GreenPool()
    for outcome in [pool.spawn(replying(writes, transport, name)) for name in (b"1", b"2")]:
        with pytest.raises(replies.BROKEN):
            outcome.wait()
    assert transport.received == []


def test_an_answered_request_is_acknowledged_as_kombu_would_mark_it():
    """reply_and_ack writes the ack itself: the message is then acknowledged in kombu's eyes, so a
    second ack raises kombu's error instead of sending a second frame the broker would refuse."""
    transport = CountingTransport()
    channel = SimpleNamespace(channel_id=3, no_ack_consumers=set())
    channel.connection = SimpleNamespace(transport=transport, frame_max=4096, bytes_sent=0)
    message = Message(b"{}", channel=channel, delivery_tag=41, properties={"reply_to": "r", "correlation_id": "c"})
    assert replies.reply_and_ack(message, "nameko-rpc", b'{"result": 1, "error": null}')
    assert methods_in(b"".join(transport.writes)) == [BASIC_PUBLISH, BASIC_ACK]
    assert transport.writes[0].endswith(replies.ack_frame(3, 41))
    assert message.acknowledged and channel.connection.bytes_sent == 2
    with pytest.raises(MessageStateError):
        message.ack()
    assert len(transport.writes) == 1
