"""A TCP relay in front of a broker that can go silent, as a frozen or cut-off node looks to a client.

    relay = Relay("127.0.0.1", 5672).start()   # clients connect to relay.port
    relay.freeze()   # bytes stop both ways; sockets stay open; new connections are accepted, unanswered
    relay.thaw()     # everything held flows again
    relay.cut()      # like freeze, but new connections are not accepted either (they time out)
    relay.stall_new()  # open connections flow; new ones are accepted, unanswered (thaw() lets them on)
    relay.close()
    relay.connections  # how many client connections it relays now

A SIGSTOPped RabbitMQ looks exactly like freeze(): its kernel still completes TCP handshakes, nothing
answers, and no RST tells anyone. stall_new() is what the other nodes of a RabbitMQ 3.10 cluster do while
one is frozen: their open connections answer, new ones get no handshake until the cluster notices
(README). The relay runs on threads of its own (blocking sockets, select).
"""

import select
import socket
import threading
import urllib.parse

from tests.support.servers import AMQP_BASE

CHUNK = 65536


class Relay:
    def __init__(self, target_host, target_port, host="127.0.0.1"):
        self.target = (target_host, target_port)
        self._server = socket.create_server((host, 0), backlog=128)
        self.host, self.port = host, self._server.getsockname()[1]
        self._running = threading.Event()  # set: bytes flow; clear: frozen
        self._running.set()
        self._accepting = threading.Event()
        self._accepting.set()
        self._admitting = threading.Event()  # set: new connections go through to the target
        self._admitting.set()
        self._closed = False
        self._sockets = set()
        self._lock = threading.Lock()

    def uri(self, vhost="/", user="guest", password="guest"):
        """An AMQP URI through this relay (when it fronts a broker)."""
        return f"amqp://{user}:{password}@{self.host}:{self.port}/{'' if vhost == '/' else vhost}"

    @property
    def connections(self):
        """How many client connections it relays now (accepted and joined to the target)."""
        with self._lock:
            return len(self._sockets) // 2

    def start(self):
        threading.Thread(target=self._accept, name="relay-accept", daemon=True).start()
        return self

    def freeze(self):
        self._running.clear()

    def cut(self):
        self._accepting.clear()
        self._running.clear()

    def stall_new(self):
        self._admitting.clear()

    def thaw(self):
        self._accepting.set()
        self._admitting.set()
        self._running.set()

    def close(self):
        self._closed = True
        self._running.set()
        self._accepting.set()
        self._admitting.set()
        self._server.close()
        with self._lock:
            for each in list(self._sockets):
                each.close()
            self._sockets.clear()

    def _accept(self):
        while not self._closed:
            self._accepting.wait()
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        # A connection accepted while frozen is held, unanswered, as a frozen node's kernel holds it.
        self._running.wait()
        self._admitting.wait()
        if self._closed:
            client.close()
            return
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        with self._lock:
            self._sockets.update((client, upstream))
        peers = {client: upstream, upstream: client}
        try:
            while not self._closed:
                readable, _, _ = select.select(list(peers), [], [], 0.2)
                for source in readable:
                    self._running.wait()
                    if self._closed:
                        return
                    data = source.recv(CHUNK)
                    if not data:
                        return
                    peers[source].sendall(data)
        except OSError:
            return
        finally:
            with self._lock:
                self._sockets.discard(client)
                self._sockets.discard(upstream)
            client.close()
            upstream.close()


def in_front_of_broker():
    """A started Relay in front of the tests' broker (TEST_AMQP_URI): a node that can go silent."""
    broker = urllib.parse.urlsplit(AMQP_BASE)
    return Relay(broker.hostname, broker.port or 5672).start()
