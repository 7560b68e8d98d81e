"""The consumer's connection noticing a silent broker node within seconds, and moving on.

A frozen or cut-off node keeps its sockets open and says nothing. Per consumer connection:

* the heartbeat is AMQP_HEARTBEAT (2 s), read in turns of a quarter of it; a connection that
  received nothing for 1.5 heartbeats is dropped (NodeSilent), closing only its socket;
* declaring consumers, and anything else that waits for the broker outside that loop, gets
  ANSWERED_WITHIN (NodeSilent otherwise);
* the dropped node goes to the back of the process's order (nodes.py); a new connection gives each
  node AMQP_CONNECT_TIMEOUT (1 s), with a growing pause after each failed round;
* after a reconnection, `when_reconnected` callbacks run before the consumers are declared again,
  and for PRIORITY_WINDOW the new consumers take priority (x-priority) over the lost ones.

Why each, and what it measured: docs/design.md, "A node that goes silent: the workers".
"""

import logging
import time
from contextlib import ExitStack, contextmanager
from functools import partial

import eventlet
from amqp.exceptions import ConnectionForced
from kombu import Connection
from kombu import Consumer as KombuConsumer
from nameko.constants import (
    AMQP_SSL_CONFIG_KEY,
    DEFAULT_TRANSPORT_OPTIONS,
    HEARTBEAT_CONFIG_KEY,
    LOGIN_METHOD_CONFIG_KEY,
    TRANSPORT_OPTIONS_CONFIG_KEY,
)

from workers.runtime.nodes import node_failed, nodes_of
from workers.runtime.publishing import renew_pooled_connections

log = logging.getLogger(__name__)

DEFAULT_HEARTBEAT = 2  # seconds (nameko's: 60)
CONNECT_TIMEOUT_KEY = "AMQP_CONNECT_TIMEOUT"
DEFAULT_CONNECT_TIMEOUT = 1.0  # seconds to connect and shake hands with one node (kombu's: 5)
SILENT_AFTER = 1.5  # heartbeats without a frame from the broker: it sends one every heartbeat at most
# declaring the consumers (a quorum queue electing a leader may take seconds to take a consumer)
ANSWERED_WITHIN = 10.0  # seconds
PRIORITY_AFTER_RECONNECTION = {"x-priority": 1}  # consumer arguments (the default priority is 0)
PRIORITY_WINDOW = 10.0  # seconds
RETRY_INTERVALS = {"interval_start": 1, "interval_step": 1, "interval_max": 5}  # after a whole round failed


class NodeSilent(ConnectionForced):
    """The broker node sent nothing for longer than its heartbeat allows."""


def connect_timeout(config):
    return float(config.get(CONNECT_TIMEOUT_KEY, DEFAULT_CONNECT_TIMEOUT))


class FailoverConsumerMixin:
    """For nameko's QueueConsumer (a kombu ConsumerMixin): see the module's docstring."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._reconnected_callbacks = []
        self._connected_before = False
        self._trying = []  # the order of nodes the current connection was made with
        self._failures = 0  # of its connection attempts: kombu moved on that many nodes
        self._node = None  # the node it is connected to
        self._priority_until = None  # when the consumers of a reconnection go back to the default priority

    def when_reconnected(self, callback):
        """Call `callback()` after each reconnection, before the consumers are declared again."""
        self._reconnected_callbacks.append(callback)

    @property
    def connection(self):
        """nameko's connection settings, with this module's heartbeat and connect timeout, the
        nodes in the process's order."""
        return self._connection_to(nodes_of(self.container.config).uri)

    def _connection_to(self, uri):
        config = self.container.config
        return Connection(
            uri,
            heartbeat=config.get(HEARTBEAT_CONFIG_KEY, DEFAULT_HEARTBEAT),
            connect_timeout=connect_timeout(config),
            transport_options=config.get(TRANSPORT_OPTIONS_CONFIG_KEY, DEFAULT_TRANSPORT_OPTIONS),
            ssl=config.get(AMQP_SSL_CONFIG_KEY),
            login_method=config.get(LOGIN_METHOD_CONFIG_KEY),
        )

    def on_connection_error(self, exc, interval):
        """kombu's errback for a failed connection attempt, before it moves to the next node."""
        self._node_failed(self._trying[self._failures % len(self._trying)])
        self._failures += 1
        super().on_connection_error(exc, interval)

    @contextmanager
    def establish_connection(self):
        self._trying, self._failures = list(nodes_of(self.container.config).uris), 0
        conn = self._connection_to(";".join(self._trying))
        try:
            conn.ensure_connection(self.on_connection_error, self.connect_max_retries, **RETRY_INTERVALS)
            self._node = self._trying[self._failures % len(self._trying)]
            yield conn
        except BaseException as exc:
            if self._node is not None and isinstance(exc, conn.connection_errors):
                self._node_failed(self._node)
            conn.collect()  # the socket only: a silent node would never answer a goodbye
            raise
        else:
            conn.release()
        finally:
            self._node = None

    @contextmanager
    def Consumer(self):
        """kombu's, with the consumers' declaration bounded (`_answered_within`)."""
        with self.establish_connection() as conn:
            self.on_connection_revived()
            log.info("connected to %s", conn.as_uri())  # kombu's line (the password masked)
            with ExitStack() as consuming:
                with _answered_within():
                    channel = conn.default_channel
                    consumer_cls = partial(KombuConsumer, channel, on_decode_error=self.on_decode_error)
                    consumers = [consuming.enter_context(c) for c in self.get_consumers(consumer_cls, channel)]
                yield conn, channel, consumers
            self.on_consume_end(conn, channel)

    def on_connection_revived(self):
        self._priority_until = None
        if self._connected_before:
            for callback in self._reconnected_callbacks:
                callback()
            self._priority_until = time.monotonic() + PRIORITY_WINDOW
        self._connected_before = True
        super().on_connection_revived()

    def get_consumers(self, consumer_cls, channel):
        consumers = super().get_consumers(consumer_cls, channel)
        if self._priority_until is not None:
            _set_consumer_arguments(_of_shared_queues(consumers), PRIORITY_AFTER_RECONNECTION)
        return consumers

    def run(self, _tokens=1, **kwargs):
        """kombu's, with a lost connection logged in one line instead of a traceback."""
        restart_limit = self.restart_limit
        errors = self.connection.connection_errors + self.connection.channel_errors
        while not self.should_stop:
            try:
                if restart_limit.can_consume(_tokens):
                    for _ in self.consume(limit=None, **kwargs):
                        pass
                else:
                    time.sleep(restart_limit.expected_time(_tokens))
            except errors as exc:
                log.warning("lost the connection to the broker (%s: %s); connecting again", type(exc).__name__, exc)

    def consume(self, limit=None, timeout=None, safety_interval=1, **kwargs):
        """kombu's loop, reading in short turns, and dropping a connection that fell silent."""
        with self.consumer_context(**kwargs) as (conn, channel, consumers):
            silence = Silence(conn.connection)
            while not self.should_stop:
                self.on_iteration()
                try:
                    conn.drain_events(timeout=silence.turn)
                except TimeoutError:  # socket.timeout
                    conn.heartbeat_check()  # py-amqp sends ours when it is due
                    silence.check()
                except OSError:
                    if not self.should_stop:
                        raise
                else:
                    yield
                if self._priority_until is not None and time.monotonic() > self._priority_until:
                    self._priority_until = None
                    with _answered_within():
                        self._consume_at_default_priority()

    def _consume_at_default_priority(self):
        consumers = _of_shared_queues(self._consumers.values())  # nameko's: those it has not cancelled
        for consumer in consumers:
            consumer.cancel()  # the requests it holds stay on the channel, acknowledged as usual
        _set_consumer_arguments(consumers, None)
        for consumer in consumers:
            consumer.consume()

    def _node_failed(self, node):
        config = self.container.config
        if node is None or len(nodes_of(config).uris) < 2:
            return
        log.info("broker node %s goes to the back of the order", node)  # the passwords filter masks the URI
        # connections to it from kombu's pool: the new order makes a new pool, this one is left
        renew_pooled_connections(config, "a broker node failed")
        node_failed(config, node)


def _answered_within(seconds=ANSWERED_WITHIN):
    """A bound on a step that waits for the broker's answers, which py-amqp would wait for ever."""
    return eventlet.Timeout(seconds, NodeSilent(f"no answer from the broker in {seconds:g}s"))


def _of_shared_queues(consumers):
    """The consumers of queues that other connections consume too (the services' queues), not of
    a connection's own (a reply queue: exclusive, and deleted with its last consumer)."""
    return [c for c in consumers if not any(q.exclusive or q.auto_delete for q in c.queues)]


def _set_consumer_arguments(consumers, arguments):
    for consumer in consumers:
        for queue in consumer.queues:
            queue.consumer_arguments = arguments


class Silence:
    """How long a connection has received nothing, checked whenever a read waited `turn` in vain."""

    def __init__(self, connection):
        self.connection = connection
        heartbeat = connection.heartbeat or 0
        self.limit = SILENT_AFTER * heartbeat
        self.turn = min(1.0, heartbeat / 4) if heartbeat else 1.0
        self.received = connection.bytes_recv
        self.heard = time.monotonic()

    def check(self):
        now = time.monotonic()
        if self.connection.bytes_recv != self.received:
            self.received = self.connection.bytes_recv
            self.heard = now - self.turn  # the read that just waited in vain began at the last frame
        elif self.limit and now - self.heard > self.limit:
            heartbeat = self.limit / SILENT_AFTER
            raise NodeSilent(f"nothing from the broker for {now - self.heard:.1f}s (heartbeat {heartbeat:g}s)")
