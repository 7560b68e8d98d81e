"""The workers' AMQP transport (workers/runtime/transport.py) against py-amqp's own, on a socket pair:
the same frames for any way the bytes arrive, fewer reads, and py-amqp's behaviour on a timeout, a
closed socket and a malformed frame."""

import random
import socket
import struct
import threading

import pytest
from amqp import transport as amqp_transport
from amqp.exceptions import UnexpectedFrame

from workers.runtime import transport
from workers.runtime.transport import READ_SIZE, BufferedTCPTransport

STOCK_TCP_TRANSPORT = BufferedTCPTransport.__mro__[1]  # py-amqp's, whether or not installed already


def frame(frame_type, channel, payload):
    return struct.pack(">BHI", frame_type, channel, len(payload)) + payload + b"\xce"


# a message as RabbitMQ delivers it: method, content header, body; and a heartbeat, and a body
# larger than one read
FRAMES = [
    frame(1, 1, b"\x00\x3c\x00\x3c" + b"d" * 60),
    frame(2, 1, b"h" * 40),
    frame(3, 1, b'{"args": [], "kwargs": {"id": "ab12cd"}}'),
    frame(8, 0, b""),
    frame(3, 2, bytes(range(256)) * (3 * READ_SIZE // 256)),
]


def on_socket(cls, sock):
    tr = cls("127.0.0.1:5672")  # not connected: the test hands it its socket
    tr.sock, tr.connected = sock, True
    tr._setup_transport()
    return tr


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def feed(sock, data, chunks):
    def send():
        at = 0
        for size in chunks:
            sock.sendall(data[at : at + size])
            at += size
        sock.sendall(data[at:])

    thread = threading.Thread(target=send)
    thread.start()
    return thread


def read_all(cls, sock, count):
    tr = on_socket(cls, sock)
    frames = []
    for _ in range(count):
        with tr.having_timeout(5):
            frames.append(tr.read_frame())
    return frames


@pytest.mark.parametrize("seed", range(6))
def test_the_same_frames_as_py_amqp_however_the_bytes_arrive(seed):
    data = b"".join(FRAMES)
    rng = random.Random(seed)
    chunks = [rng.choice((1, 2, 7, 8, 50, 1000, READ_SIZE + 3)) for _ in range(200)]
    results = []
    for cls in (STOCK_TCP_TRANSPORT, BufferedTCPTransport):
        a, b = socket.socketpair()
        sender = feed(b, data, chunks)
        results.append(read_all(cls, a, len(FRAMES)))
        sender.join()
        a.close()
        b.close()
    stock, buffered = results
    assert buffered == stock
    assert [len(payload) for _, _, payload in buffered] == [len(f) - 8 for f in FRAMES]
    assert all(type(payload) is bytes for _, _, payload in buffered)


def count_reads(tr):
    reads, recv = [], tr._quick_recv

    def counting(size):
        reads.append(size)
        return recv(size)

    tr._quick_recv = counting
    return reads


def test_a_message_arriving_at_once_is_one_read(pair):
    a, b = pair
    b.sendall(b"".join(FRAMES[:3]))
    tr = on_socket(BufferedTCPTransport, a)
    reads = count_reads(tr)
    frames = [tr.read_frame() for _ in range(3)]
    assert [frame_type for frame_type, _, _ in frames] == [1, 2, 3]
    assert len(reads) == 1  # py-amqp's own: 9, header, payload and end octet of each


def test_a_timeout_mid_frame_loses_nothing(pair):
    a, b = pair
    tr = on_socket(BufferedTCPTransport, a)
    whole = FRAMES[2]
    for cut in (3, 7, 20, len(whole) - 1):  # in the header, after it, in the payload, before the end
        b.sendall(whole[:cut])
        with pytest.raises(socket.timeout), tr.having_timeout(0.05):
            tr.read_frame()
        b.sendall(whole[cut:] + FRAMES[3])
        with tr.having_timeout(1):
            assert tr.read_frame() == (3, 1, whole[7:-1])
            assert tr.read_frame() == (8, 0, b"")


def test_a_closed_socket_is_an_error_and_marks_the_transport_down(pair):
    a, b = pair
    tr = on_socket(BufferedTCPTransport, a)
    b.sendall(FRAMES[0][:10])
    b.close()
    with pytest.raises(OSError, match="unexpectedly closed"):
        tr.read_frame()
    assert not tr.connected


def test_a_frame_without_its_end_octet_is_refused(pair):
    a, b = pair
    tr = on_socket(BufferedTCPTransport, a)
    b.sendall(FRAMES[1][:-1] + b"\x00")
    with pytest.raises(UnexpectedFrame):
        tr.read_frame()


def test_install_makes_it_the_transport_of_amqp_connections(monkeypatch):
    monkeypatch.setattr(amqp_transport, "TCPTransport", STOCK_TCP_TRANSPORT)
    transport.install()
    assert type(amqp_transport.Transport("127.0.0.1:5672")) is BufferedTCPTransport
    assert type(amqp_transport.Transport("127.0.0.1:5671", ssl=True)) is amqp_transport.SSLTransport
    transport.install()  # again: still the buffered transport over py-amqp's
    assert amqp_transport.TCPTransport is BufferedTCPTransport
    assert STOCK_TCP_TRANSPORT.__module__ == "amqp.transport"
