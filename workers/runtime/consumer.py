"""The consumer of the services' RPC queues: nameko's, without a greenthread per request.

nameko's QueueConsumer hands each message to its provider in a new managed greenthread, and the
rpc entrypoint then spawns the worker's: two greenthreads per call. A greenthread costs more than
it looks (30-40 us of CPU here from spawn to exit, bench/worker_parts.py: the greenlet, a fresh
interpreter stack that CPython maps and unmaps, the hub's timer and the links). For an RPC request the first one
does nothing that needs a thread of its own: find the entrypoint, check the arguments, spawn the
worker. So here the consumer does that itself, in its own greenthread, when a worker slot is
free and no other greenthread is queued for one (then nothing in it waits: container.py), and only
the worker gets a greenthread. Otherwise, nameko's way:

* When all `max_workers` slots are taken (a timer's worker takes one too, so the prefetch of
  `max_workers` requests does not prevent it), spawning waits for a free one: in a managed
  greenthread, as nameko does it, so the consumer goes on reading frames. It must: the busy
  workers may be waiting for replies from other services, which this same consumer receives.
* A request that fails before its worker (no such method, a wrong signature) is answered through
  nameko's responder, which opens a connection and waits for the broker's confirm: in a
  greenthread of its own too, so the consumer never waits on the network.
* Other providers on this consumer (the proxies' reply listeners) keep nameko's way, and so does
  every request when the container is not this project's (workers/runtime/container.py, which
  says whether a slot is free).

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
