"""Publishing RPC replies: one long-lived channel per service container, no publisher confirms.

nameko's own Responder builds a kombu Connection and checks a producer out of kombu's pools for
every reply, serialises the result twice, and waits for the broker's publisher confirm: about a
third of a trivial call's CPU in the worker, and extra work for the broker. This publishes the
same reply (same exchange, routing key, correlation id and JSON body, so every nameko caller
still understands it) as one write on a channel that stays open.

What is given up, and why it is safe here: without a confirm (and with nothing reading this
connection), a reply is lost unnoticed when the broker dropped it, or the connection died
without the socket telling yet. The request was already handled and acknowledged, so its
caller times out (504) and may retry; creates are idempotent, so the retry returns the first
result. To keep that window small, a connection idle for IDLE_RECONNECT seconds is replaced
before it is used (a broker restart or a dropped NAT entry meanwhile would go unseen). A reply
that cannot even be written is not acknowledged: the request goes back to its queue and is
answered again, by this or another instance (at-least-once, as with nameko's own responder;
for a delete, the second answer is a 404 for a delete that did happen).
"""
import logging
import time

import orjson
from amqp.exceptions import AMQPError
from eventlet.semaphore import Semaphore
from kombu import Connection, Producer
from kombu.exceptions import OperationalError
from nameko.constants import AMQP_SSL_CONFIG_KEY, AMQP_URI_CONFIG_KEY, LOGIN_METHOD_CONFIG_KEY
from nameko.exceptions import UnserializableValueError, serialize
from nameko.extensions import SharedExtension
from nameko.rpc import get_rpc_exchange

log = logging.getLogger(__name__)

JSON = "application/json"
TRANSIENT = 1
BROKEN = (OSError, OperationalError, AMQPError)
IDLE_RECONNECT = 30.0  # seconds


def reply_body(result, exc_info):
    """The reply as nameko writes it, JSON-encoded once: {"result": ..., "error": ...}."""
    if exc_info is not None:
        return orjson.dumps({"result": None, "error": serialize(exc_info[1])})
    try:
        return orjson.dumps({"result": result, "error": None})
    except TypeError:
        return orjson.dumps({"result": None, "error": serialize(UnserializableValueError(result))})


class ReplyPublisher(SharedExtension):
    def setup(self):
        config = self.container.config
        self.exchange = get_rpc_exchange(config)
        self._connect_options = dict(hostname=config[AMQP_URI_CONFIG_KEY], ssl=config.get(AMQP_SSL_CONFIG_KEY),
                                     login_method=config.get(LOGIN_METHOD_CONFIG_KEY))
        self._connection = self._producer = None
        self._last_used = 0.0
        self._lock = Semaphore()  # frames of two replies must not interleave on the channel

    def publish(self, body, routing_key, correlation_id):
        """Publish one reply; raises if the broker cannot be reached even after reconnecting."""
        with self._lock:
            now = time.monotonic()
            if now - self._last_used > IDLE_RECONNECT:
                self._close()
            self._last_used = now
            for attempt in (1, 2):
                try:
                    if self._producer is None:
                        self._connection = Connection(**self._connect_options)
                        self._producer = Producer(self._connection.channel(), exchange=self.exchange)
                    self._producer.publish(body, routing_key=routing_key, correlation_id=correlation_id,
                                           content_type=JSON, content_encoding="utf-8",
                                           delivery_mode=TRANSIENT, retry=False)
                    return
                except BROKEN as exc:
                    log.warning("reply channel failed (%s); %s", exc, "reconnecting" if attempt == 1 else "giving up")
                    self._close()
                    if attempt == 2:
                        raise

    def _close(self):
        connection, self._connection, self._producer = self._connection, None, None
        if connection is not None:
            try:
                connection.release()
            except Exception:  # it is being thrown away
                pass

    def stop(self):
        with self._lock:
            self._close()

    def kill(self):  # no waiting for the lock: whatever holds it is being killed too
        self._close()
