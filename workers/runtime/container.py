"""The service container the travel services run in: nameko's, without its per-call debug timing,
its workers on greenthreads kept from call to call (reused_threads.py), and saying whether a
worker slot is free.

nameko's `_run_worker` wraps every call in four `log_time` context managers (generator-based, each
timing and logging at DEBUG on exit) and joins the call-id stack for a debug line, which also makes
a uuid4 call id the call may never need. With DEBUG off, that was about 15 % of a worker's CPU
per call (py-spy --gil; BENCHMARKS.md, "The worker tier's per-call machinery"). Here, when
`nameko.containers` does not log at DEBUG, the same steps run in the same order without them;
when it does, nameko's own method runs, lines and all.

Chosen with nameko's own setting, `SERVICE_CONTAINER_CLS` (workers/config.yml). The nameko methods
this calls and overrides are private: tests/support/private.py lists them, and a test checks that
nameko's `_run_worker` is still the one this copies.
"""

import logging
import sys

from nameko.amqp.publish import Publisher
from nameko.containers import ServiceContainer as NamekoServiceContainer

from workers.runtime import transport
from workers.runtime.failover import connect_timeout
from workers.runtime.nodes import nodes_of
from workers.runtime.reused_threads import ReusedGreenPool

# nameko's logger, so the error lines and their filters (config.yml) are the ones nameko's would be
log = logging.getLogger("nameko.containers")


class ServiceContainer(NamekoServiceContainer):
    def __init__(self, *args, **kwargs):
        transport.install()  # before the container's first AMQP connection (workers/runtime/transport.py)
        super().__init__(*args, **kwargs)
        self._worker_pool = ReusedGreenPool(size=self.max_workers)  # nameko's is a GreenPool of that size
        nodes_of(self.config)  # the process's order of the broker nodes: from a random one (nodes.py)
        # nameko's publishers too give a node AMQP_CONNECT_TIMEOUT, not kombu's 5 s (failover.py):
        # their connection arguments, which py-amqp's Connection takes over kombu's
        Publisher.transport_options["connect_timeout"] = connect_timeout(self.config)

    def stop(self):
        super().stop()
        self._worker_pool.close()  # the parked greenthreads end with the container

    def kill(self, exc_info=None):
        super().kill(exc_info)
        self._worker_pool.close()

    def has_free_worker(self):
        """Whether spawn_worker would start a worker now rather than wait for a slot
        (workers/runtime/consumer.py): a slot is free and no greenthread is queued for one.
        eventlet's semaphore serves the greenthreads already waiting first (a timer's tick, a
        spawn nameko's way), even in the moment after a slot frees, when `free()` says 1; a
        consumer that spawned then would wait, and with it the replies its busy workers wait for
        (seen on the cluster drill: trips_service's calls stalled until their timeouts)."""
        slots = self._worker_pool.sem
        return slots.counter > 0 and slots.balance == slots.counter  # balance counts the queued

    def _run_worker(self, worker_ctx, handle_result):
        if log.isEnabledFor(logging.DEBUG):
            return super()._run_worker(worker_ctx, handle_result)
        self._inject_dependencies(worker_ctx)
        self._worker_setup(worker_ctx)
        result = exc_info = None
        entrypoint = worker_ctx.entrypoint
        method = getattr(worker_ctx.service, entrypoint.method_name)
        try:
            result = method(*worker_ctx.args, **worker_ctx.kwargs)
        except Exception as exc:
            if isinstance(exc, entrypoint.expected_exceptions):
                log.warning("(expected) error handling worker %s: %s", worker_ctx, exc, exc_info=True)
            else:
                log.exception("error handling worker %s: %s", worker_ctx, exc)
            exc_info = sys.exc_info()
        if handle_result is not None:
            result, exc_info = handle_result(worker_ctx, result, exc_info)
        self._worker_result(worker_ctx, result, exc_info)
        del exc_info  # breaks the traceback's cycle now, as nameko does, instead of at a gc sweep
        self._worker_teardown(worker_ctx)


# what workers/config.yml sets SERVICE_CONTAINER_CLS to (a test checks), for configs made in code
DOTTED_PATH = f"{ServiceContainer.__module__}.{ServiceContainer.__qualname__}"
