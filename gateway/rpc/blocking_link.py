"""One blocking AMQP connection to one broker node, used by one thread at a time: a reply queue of
its own, and calls published and answered with nameko's wire protocol (py-amqp's API; the one
attribute that is not documented is listed in tests/support/private.py).

The WSGI pool (proxy_pool.py) checks links out exclusively. A link knows nothing of failures: a
broken connection raises out of `publish` or `wait`, and the pool decides what to do. Every read
is bounded (`connect` and `wait` take a timeout; other round trips the socket's read timeout).
"""

import itertools
import logging
import time
import uuid
from dataclasses import dataclass, field

import amqp
from kombu.utils.url import parse_url

from gateway.metrics import LATE_REPLIES

log = logging.getLogger(__name__)

CONNECTION_NAME = "nameko-travel gateway (wsgi)"


@dataclass(frozen=True)
class Node:
    """A broker node as AMQP_URI names it (`ssl`: nameko's AMQP_SSL options, or True for amqps)."""

    host: str
    port: int
    vhost: str
    username: str
    password: str = field(repr=False)  # never in a log line, even through repr
    ssl: object = False

    @classmethod
    def from_uri(cls, uri, ssl_options=None):
        parts = parse_url(uri)
        secure = parts["transport"] == "amqps"
        return cls(
            host=parts["hostname"] or "localhost",
            port=parts["port"] or (5671 if secure else 5672),
            vhost=parts["virtual_host"] or "/",
            username=parts["userid"] or "guest",
            password=parts["password"] or "guest",
            ssl=(ssl_options or True) if secure else False,
        )

    def __str__(self):  # for logs: never the password
        return f"{self.host}:{self.port}"


def connect(node, timeout, name=CONNECTION_NAME):
    """An open connection to `node`: TCP connect and AMQP handshake, each read within `timeout`
    (a frozen node's kernel may accept the TCP connection: only the handshake proves it alive).
    Later reads and writes without a timeout of their own give up after `timeout` too."""
    connection = amqp.Connection(
        host=f"{node.host}:{node.port}",
        userid=node.username,
        password=node.password,
        virtual_host=node.vhost,
        ssl=node.ssl,
        connect_timeout=timeout,
        read_timeout=timeout,
        write_timeout=timeout,
        heartbeat=0,  # silence is found by the pool's probes, not by heartbeats
        client_properties={"connection_name": name},
    )
    connection.connect()
    return connection


def drop(connection):
    """Close without a round trip (the node may be silent): the socket goes, nothing is awaited."""
    try:
        connection.collect()
    except Exception as exc:  # noqa: BLE001 - it is being discarded anyway
        log.debug("dropping a connection failed: %r", exc)


def close_without_waiting(channel):
    """Send `channel`'s Close and return. RabbitMQ can take seconds to answer the Close of a channel
    that published to a quorum queue whose leader froze: a read waiting for it timed out and broke
    the link (every link of the pool, measured on the rabbit-freeze drill). What comes for the
    channel meanwhile is discarded, as AMQP prescribes and py-amqp does while it `is_closing`;
    py-amqp's own handler of the Close-Ok, read later with the replies, frees the channel."""
    channel.is_closing = True
    channel.send_method(amqp.spec.Channel.Close, "BsBB", (0, "", 0, 0))


class Refused(Exception):
    """The broker nacked the publish (publisher confirms): the service's queue is full."""


class Returned(Exception):
    """The broker returned the mandatory publish: no queue for the service."""


class Link:
    """A connection, a reply queue (exclusive: it goes with the connection), a channel consuming
    it and a channel to publish on, in confirm mode. One call waits at a time; a reply for any
    other correlation id (a call that gave up, a second answer to a copy) is dropped."""

    def __init__(self, node, index, exchange, timeout):
        self.node, self.index, self.exchange = node, index, exchange
        self.born = time.monotonic()
        self._waiting_for = self._outcome = None  # the call's correlation id; its reply, or what went wrong
        self.connection = connect(node, timeout)
        try:
            self.reply_to = uuid.uuid4().hex
            consumer = self.connection.channel()
            consumer.exchange_declare(exchange, "topic", durable=True, auto_delete=False)
            queue = f"rpc.reply-gateway-{self.reply_to}"
            consumer.queue_declare(queue, exclusive=True, auto_delete=True)
            consumer.queue_bind(queue, exchange, self.reply_to)
            consumer.basic_consume(queue, no_ack=True, callback=self._delivered)
            self._open_publish_channel()
        except BaseException:
            drop(self.connection)
            raise

    def _open_publish_channel(self):
        channel = self.connection.channel()
        channel.confirm_select()
        channel.events["basic_return"].add(self._returned)
        channel.events["basic_ack"].add(self._acked)
        channel.events["basic_nack"].add(self._nacked)
        self.publish_channel, self.publish_channel_opened = channel, time.monotonic()
        self._tags = itertools.count(1)  # delivery tags, per channel
        self._unconfirmed = {}  # delivery tag -> correlation id, until confirmed

    def renew_publish_channel(self):
        """Publish on a new channel from now on (see proxy_pool's docstring: after a node's loss a
        channel can go on sending to a dead quorum queue leader); the old one is closed without
        waiting (close_without_waiting)."""
        old = self.publish_channel
        self._open_publish_channel()
        close_without_waiting(old)

    def publish(self, correlation_id, routing_key, body, headers, remaining):
        """Send a request (mandatory, confirmed, as nameko sends it) whose reply `wait` reads.
        `remaining` seconds become its expiration: no worker takes it after its caller gave up."""
        self._waiting_for = correlation_id
        message = amqp.Message(
            body,
            content_type="application/json",
            content_encoding="utf-8",
            application_headers=headers,
            delivery_mode=1,  # transient, as the ASGI client's (README)
            correlation_id=correlation_id,
            reply_to=self.reply_to,
            expiration=str(max(1, int(remaining * 1000))),
        )
        self._unconfirmed[next(self._tags)] = correlation_id
        self.publish_channel.basic_publish(message, self.exchange, routing_key, mandatory=True)

    def wait(self, timeout):
        """The reply's body, once read within `timeout` seconds; None if none came. Raises Refused
        or Returned for what the broker said of the publish, OSError etc. if the connection broke."""
        if self._outcome is None:
            try:
                self.connection.drain_events(timeout=timeout)
            except TimeoutError:
                return None
        outcome, self._outcome = self._outcome, None
        if outcome is None:
            return None
        if isinstance(outcome, Exception):
            raise outcome
        self._waiting_for = None
        return outcome

    def done(self):
        """The call is over (answered, or given up): a reply still on its way is dropped."""
        self._waiting_for = self._outcome = None

    def _delivered(self, message):
        if message.properties.get("correlation_id") == self._waiting_for and self._outcome is None:
            self._outcome = message.body
        else:
            LATE_REPLIES.inc()

    def _returned(self, exc, exchange, routing_key, message):
        if message.properties.get("correlation_id") == self._waiting_for:
            self._outcome = Returned(exc.reply_text)

    def _acked(self, delivery_tag, multiple):
        self._settle(delivery_tag, multiple)

    def _nacked(self, delivery_tag, multiple):
        if self._waiting_for in self._settle(delivery_tag, multiple):
            self._outcome = Refused()

    def _settle(self, delivery_tag, multiple):
        tags = [tag for tag in self._unconfirmed if tag <= delivery_tag] if multiple else [delivery_tag]
        return [self._unconfirmed.pop(tag, None) for tag in tags]

    def close(self):
        """A clean close (the node answers: a round trip, bounded by the read timeout)."""
        try:
            self.connection.close()
        except Exception as exc:  # noqa: BLE001 - it is being discarded anyway
            log.debug("closing a link to %s failed: %r", self.node, exc)
            drop(self.connection)

    def drop(self):
        drop(self.connection)
