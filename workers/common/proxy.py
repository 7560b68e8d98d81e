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
"""

import logging

from kombu import Queue
from nameko.rpc import ReplyListener as NamekoReplyListener

from workers.common import tracing
from workers.common.consumer import QueueConsumer

log = logging.getLogger(__name__)


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
        queue = self.queue
        self.queue = Queue(
            queue.name,
            exchange=queue.exchange,
            routing_key=queue.routing_key,
            durable=False,
            exclusive=True,
            auto_delete=True,
        )


class RpcProxy(tracing.RpcProxy):
    """nameko's RpcProxy (making client spans when tracing is on) with the reply listener above."""

    rpc_reply_listener = ReplyListener()
