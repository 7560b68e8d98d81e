"""The RpcProxy the travel services call each other with: nameko's, with a reply queue that is
exclusive to its connection instead of nameko's durable one.

nameko 2.14 declares a proxy's reply queue durable, with `x-expires` (nameko/rpc.py, ReplyListener),
so on a vhost whose default queue type is quorum it becomes a replicated quorum queue. When the
node leading it dies, the queue takes a while to elect a new leader (measured: up to 10 s on a
3-node cluster under load), and replies published meanwhile are dropped, so every call in flight
and every call made then times out. An exclusive, auto-delete queue is always classic: it lives on
the node of its consumer's connection and dies with it, and nameko declares it again (the same
name) when it reconnects, on the node it reconnects to, at once. The replies of calls in flight
when the node died are lost either way; the caller asks again (trips_service's hold and release
are idempotent: workers/trips/service.py).

After the consumer's connection is lost, the queue takes a new name (`_renew_queue`): the old
one, exclusive to the lost connection, lives on until its node notices the loss (a silent node
does not), and no other connection may declare it meanwhile.
"""

import logging
import time
import uuid

import eventlet
from kombu import Queue
from nameko.exceptions import UnknownService
from nameko.rpc import RPC_REPLY_QUEUE_TEMPLATE
from nameko.rpc import ReplyListener as NamekoReplyListener

from schemas.errors import ServiceUnavailable
from workers.common import tracing
from workers.runtime.consumer import QueueConsumer
from workers.runtime.publishing import renew_pooled_connections
from workers.runtime.replies import BROKEN

log = logging.getLogger(__name__)

PUBLISH_RETRY_PAUSE = 0.2  # seconds before a request the broker refused, or that broke, goes again


class ReplyListener(NamekoReplyListener):
    queue_consumer = QueueConsumer()  # the rpc entrypoints' own (consumer.py): one connection, as nameko has it

    def handle_message(self, body, message):
        """nameko's, but an ack that fails on a connection being reset (the node died under it) no
        longer kills the whole service container: nameko catches only amqp's ConnectionError, and
        the socket raises ConnectionResetError (an OSError). The reply arrived; it is delivered."""
        try:
            self.queue_consumer.ack_message(message)
        except OSError as exc:
            log.info("could not acknowledge a reply (%s); its queue goes with the connection", exc)
        client_event = self._reply_events.pop(message.properties.get("correlation_id"), None)
        if client_event is not None:
            client_event.send(body)

    def setup(self):
        super().setup()  # registers with the container's queue consumer, which declares at start
        self.queue = self._exclusive_queue(self.queue.name)
        self.queue_consumer.when_reconnected(self._renew_queue)

    def _exclusive_queue(self, name):
        queue = self.queue
        return Queue(
            name, exchange=queue.exchange, routing_key=self.routing_key, durable=False, exclusive=True, auto_delete=True
        )

    def _renew_queue(self):
        """A reply queue of a new name for the new connection; the calls that wait for a reply on
        the old one are told at once (ReplyQueueLost), and ask again (call_idempotent)."""
        key = uuid.uuid4()
        self.routing_key = str(key)
        self.queue = self._exclusive_queue(RPC_REPLY_QUEUE_TEMPLATE.format(self.container.service_name, key))
        waiting, self._reply_events = self._reply_events, {}
        for event in waiting.values():
            event.send_exception(ReplyQueueLost("the connection of the reply queue was lost"))


class ReplyQueueLost(ConnectionError):
    """The reply to a call can no longer arrive: its queue went with a lost connection."""


class RpcProxy(tracing.RpcProxy):
    """nameko's RpcProxy (making client spans when tracing is on) with the reply listener above."""

    rpc_reply_listener = ReplyListener()


def call_idempotent(service, method, kwargs, *, target, config, attempt, timeout):
    """`service.method(**kwargs)` through an RpcProxy's proxy to `target` (a service name), asked
    again after `attempt` seconds without an answer, or PUBLISH_RETRY_PAUSE after the request could
    not go out, until `timeout`; then ServiceUnavailable. For idempotent methods only. A retry goes
    out on a connection made after the failure (publishing.py): the old channel may still send to
    a dead queue leader."""
    name = f"{target}.{method}"
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        try:
            with eventlet.Timeout(min(attempt, remaining)):
                return getattr(service, method)(**kwargs)
        except eventlet.Timeout:
            renew_pooled_connections(config, f"{name} got no answer in {attempt}s")
            if deadline - time.monotonic() <= 0.05:
                raise ServiceUnavailable(f"{target} did not answer in time.") from None
            log.info("%s: no answer in %ss; asking again", name, attempt)
        except BROKEN as exc:
            renew_pooled_connections(config, f"{name} could not be sent")
            if deadline - time.monotonic() <= PUBLISH_RETRY_PAUSE:
                raise ServiceUnavailable(f"{target} could not be reached.") from exc
            log.info("%s: the request did not go out (%r); asking again", name, exc)
            eventlet.sleep(PUBLISH_RETRY_PAUSE)
        except UnknownService:
            raise ServiceUnavailable(f"{target} is not running.") from None
