"""Which broker nodes answer, found by a thread that asks each one every PROBE_INTERVAL.

A node is up while a round trip on a connection of the watch's own (one per node, kept open)
comes back within PROBE_TIMEOUT; it is down from the first one that does not: refused, reset,
or silent (frozen, or cut off by a partition: sockets stay open, nothing answers). A node down
is tried again each round with a new connection, whose AMQP handshake must complete within
PROBE_TIMEOUT (a frozen node's kernel still accepts TCP connections). So a silent node is
noticed within PROBE_INTERVAL + HEARD_RECENTLY + PROBE_TIMEOUT, not after heartbeats. A node that
answered a call in the last HEARD_RECENTLY seconds (`heard`) is not asked: under load the watch
costs nothing, and idle it costs one small round trip per node per interval.
"""

import logging
import threading
import time

from amqp.exceptions import AMQPError

from gateway.rpc.blocking_link import connect, drop

log = logging.getLogger(__name__)

PROBE_INTERVAL, PROBE_TIMEOUT = 0.5, 1.0
HEARD_RECENTLY = 0.1  # short: a node that froze right after its last answer is asked soon
BROKEN = (OSError, AMQPError)  # py-amqp's connection errors (a read timeout is an OSError)


class NodeWatch:
    """`up[i]`: whether node i answered last; `on_change(i, up, silent)` is called from the watch's
    thread when that changes (or from a caller's, through `saw_down`), `silent` when the node went
    down without a word (a timeout, not a refusal or a reset); `on_round()` after each round."""

    def __init__(self, nodes, on_change, interval=PROBE_INTERVAL, timeout=PROBE_TIMEOUT, on_round=None):
        self.nodes, self.on_change, self.on_round = nodes, on_change, on_round or (lambda: None)
        self.interval, self.timeout = interval, timeout
        self._probes = [None] * len(nodes)  # (connection, channel) per node, while it answers
        self._stopped = threading.Event()
        self._changing = threading.Lock()
        self.heard = [0.0] * len(nodes)  # per node, the last time (monotonic) it answered a call
        self.probes = 0
        self.up = [self._probe(index) is None for index in range(len(nodes))]
        self._thread = threading.Thread(target=self._run, name="broker-node-watch", daemon=True)
        self._thread.start()

    def saw_down(self, index):
        """A caller found node `index` refusing or silent: down now, not at the next round."""
        self._set(index, False)

    def _set(self, index, up, silent=False):
        with self._changing:
            changed = self.up[index] != up
            self.up[index] = up
        if changed:
            self.on_change(index, up, silent)

    def _run(self):
        while not self._stopped.wait(self.interval):
            for index in range(len(self.nodes)):
                if self.up[index] and time.monotonic() - self.heard[index] < HEARD_RECENTLY:
                    continue  # it is answering calls: alive
                try:
                    failure = self._probe(index)
                    self._set(index, failure is None, isinstance(failure, TimeoutError))
                except Exception:  # a watch that died would leave the pool blind: log, go on
                    log.exception("probing broker node %s failed", self.nodes[index])
            try:
                self.on_round()
            except Exception:
                log.exception("after probing the broker nodes")

    def _probe(self, index):
        """None if node `index` answered, else what went wrong."""
        self.probes += 1
        probe = self._probes[index]
        try:
            if probe is None:
                connection = connect(self.nodes[index], self.timeout, name="nameko-travel gateway (wsgi) probe")
                probe = self._probes[index] = (connection, connection.channel())
            probe[1].basic_qos(0, 0, False)  # a round trip the broker answers at once (Qos-Ok)
            return None
        except BROKEN as exc:
            log.debug("broker node %s does not answer: %r", self.nodes[index], exc)
            if probe is not None:
                drop(probe[0])
            self._probes[index] = None
            return exc

    def close(self):
        self._stopped.set()
        self._thread.join(self.interval + 2 * self.timeout * len(self.nodes))
        for probe in self._probes:
            if probe is not None:
                try:
                    probe[0].close()  # a clean close: the broker logs no unexpected one
                except Exception:  # noqa: BLE001
                    drop(probe[0])
