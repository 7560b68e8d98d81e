"""py-amqp's TCP transport, reading what the socket holds at once instead of a frame's three parts.

It reads up to `READ_SIZE` bytes whenever its buffer holds less than the next part needs, and
cuts a frame already whole in the buffer out of it at once; a frame only partly there is read
py-amqp's way, from the buffer first. Frames, their order, and what a timeout, a closed socket or
a frame without its end octet do are py-amqp's.

`install()` names this class where `amqp.transport.Transport()` picks `TCPTransport` by its
module name, for every connection the process makes afterwards (amqps:// keeps py-amqp's SSL
transport); the worker processes install it when their first service container is made
(workers/runtime/container.py). The py-amqp attributes this relies on are listed in
tests/support/private.py. Why, and what it saves: docs/design.md, "Buffered AMQP reads".
"""

import contextlib
import errno
from struct import unpack, unpack_from

from amqp import transport as amqp_transport

READ_SIZE = 16384  # a request is a few hundred bytes; a busy consumer's prefetch, a few kB
FRAME_END = 206  # the octet that ends every AMQP frame
HEADER_SIZE = 7  # type (1), channel (2), payload size (4)


class BufferedTCPTransport(amqp_transport.TCPTransport):
    def _buffered_frame_size(self):
        """The size (header, payload, end) of the frame at the head of the buffer, if all of it
        is there, else 0."""
        buffer = self._read_buffer
        if len(buffer) < HEADER_SIZE + 1:
            return 0
        size = HEADER_SIZE + unpack_from(">I", buffer, 3)[0] + 1
        return size if len(buffer) >= size else 0

    def having_timeout(self, timeout):
        """py-amqp's, but a frame already in the buffer is read without setting the socket's
        timeout there and back (twice a frame, through eventlet's green socket)."""
        if self._buffered_frame_size():
            return contextlib.nullcontext(self.sock)
        return super().having_timeout(timeout)

    def read_frame(self, unpack=unpack):
        """A frame already in the buffer, cut out of it at once; else py-amqp's way, part by
        part (which also raises UnexpectedFrame for a frame without its end octet)."""
        size = self._buffered_frame_size()
        buffer = self._read_buffer
        if not size or buffer.__class__ is not bytearray or buffer[size - 1] != FRAME_END:
            return super().read_frame(unpack)
        frame_type, channel = unpack_from(">BH", buffer)
        payload = bytes(buffer[HEADER_SIZE : size - 1])
        del buffer[:size]  # a bytearray drops its head without moving the rest
        return frame_type, channel, payload

    def _read(self, n, initial=False, _errnos=(errno.EAGAIN, errno.EINTR)):
        """Exactly n bytes, from the buffer, refilled by as much as one `recv` returns.

        What the socket gave is kept in the buffer until handed out, so a timeout or an error
        mid-frame loses nothing (py-amqp's `read_frame` puts a frame's parts already read back
        in front of the buffer, as bytes: hence the conversion)."""
        buffer = self._read_buffer
        if buffer.__class__ is not bytearray:
            buffer = self._read_buffer = bytearray(buffer)
        if len(buffer) < n:
            recv = self._quick_recv
            while len(buffer) < n:
                try:
                    data = recv(max(n - len(buffer), READ_SIZE))
                except OSError as exc:
                    if exc.errno in _errnos:
                        if initial and self.raise_on_initial_eintr:
                            raise TimeoutError() from None  # socket.timeout, as py-amqp raises
                        continue
                    raise
                if not data:
                    raise OSError("Server unexpectedly closed connection")
                buffer += data
        result = bytes(buffer[:n])
        del buffer[:n]  # a bytearray drops its head without moving the rest
        return result


def install():
    """Make this the transport of amqp:// connections made from now on (idempotent)."""
    amqp_transport.TCPTransport = BufferedTCPTransport
