"""The consumer of the services' RPC queues: nameko's, without a greenthread per request.

When a worker slot is free and no greenthread is queued for one (container.py), the consumer
finds the entrypoint, checks the arguments and spawns the worker itself, in its own greenthread,
instead of nameko's managed greenthread per message; otherwise, and for other providers or
containers, it goes nameko's way. Why, what it saves, and how it waits when every slot is taken:
docs/design.md, "A consumer without a greenthread per request".

Its connection notices a silent broker node and moves on to another one: workers/runtime/failover.py.

Declared through nameko's own extension points: the entrypoint's `rpc_consumer` and the
consumers' `queue_consumer` (workers/runtime/entrypoint.py, workers/runtime/proxy.py).
"""

import sys
from functools import partial

from nameko.messaging import QueueConsumer as NamekoQueueConsumer
from nameko.rpc import RpcConsumer as NamekoRpcConsumer

from workers.runtime.failover import FailoverConsumerMixin


class QueueConsumer(FailoverConsumerMixin, NamekoQueueConsumer):
    def handle_message(self, provider, body, message):
        free_worker = getattr(self.container, "has_free_worker", None)
        if isinstance(provider, RpcConsumer) and free_worker is not None and free_worker():
            provider.handle_message(body, message)  # nothing yields before the worker is spawned
        else:
            super().handle_message(provider, body, message)


class RpcConsumer(NamekoRpcConsumer):
    queue_consumer = QueueConsumer()

    def __init__(self):
        super().__init__()
        self._by_routing_key = {}  # nameko's lookup formats a key per registered method per call

    def get_provider_for_method(self, routing_key):
        provider = self._by_routing_key.get(routing_key)
        if provider is None:  # MethodNotFound for a method that has no entrypoint
            provider = self._by_routing_key[routing_key] = super().get_provider_for_method(routing_key)
        return provider

    def unregister_provider(self, provider):
        super().unregister_provider(provider)  # waits until the last provider unregisters
        self._by_routing_key.clear()

    def handle_message(self, body, message):
        try:
            self.get_provider_for_method(message.delivery_info["routing_key"]).handle_message(body, message)
        except Exception:
            exc_info = sys.exc_info()
            self.container.spawn_managed_thread(
                partial(self.handle_result, message, None, exc_info), identifier="RpcConsumer.handle_result"
            )
