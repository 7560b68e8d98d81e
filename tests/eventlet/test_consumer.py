"""The workers' RPC consumer and service container (workers/runtime/consumer.py, container.py) in
real nameko containers on the test broker: a request reaches its worker without a greenthread of
its own while a worker slot is free, and when none is, nameko's way, so that the consumer still
receives the replies the busy workers wait for.

Runs under `nameko test` (eventlet monkey-patched); see tests/conftest.py.
"""

import hashlib
import inspect
import logging
import re

import eventlet
import eventlet.event
import pytest
from nameko.containers import ServiceContainer as NamekoServiceContainer
from nameko.exceptions import MethodNotFound
from nameko.standalone.rpc import ServiceRpcProxy
from nameko.testing.services import entrypoint_hook

from tests.support.processes import ROOT
from workers.greeting import GreetingService
from workers.runtime.container import DOTTED_PATH, ServiceContainer
from workers.runtime.entrypoint import rpc
from workers.runtime.proxy import RpcProxy

pytestmark = pytest.mark.eventlet  # tests/conftest.py says why


class CalleeService:
    name = "consumer_callee"

    @rpc
    def echo(self, value, delay=0):
        eventlet.sleep(delay)
        return value


class CallerService:
    name = "consumer_caller"
    callee = RpcProxy("consumer_callee")

    @rpc
    def relay(self, value, delay=0):
        return self.callee.echo(value, delay=delay)

    @rpc
    def ping(self):
        return "pong"


def record_managed_threads(container):
    spawned, spawn = [], container.spawn_managed_thread

    def recording(fn, identifier=None):
        spawned.append(identifier)
        return spawn(fn, identifier=identifier)

    container.spawn_managed_thread = recording
    return spawned


def test_the_workers_config_names_this_container():
    text = (ROOT / "workers" / "config.yml").read_text()
    assert re.search(rf"^SERVICE_CONTAINER_CLS: {re.escape(DOTTED_PATH)}\b", text, re.M)


def test_a_request_reaches_its_worker_without_a_greenthread_of_its_own(container_factory, worker_config):
    container = container_factory(GreetingService, worker_config)
    assert isinstance(container, ServiceContainer)
    container.start()
    spawned = record_managed_threads(container)
    with ServiceRpcProxy("greeting_service", worker_config) as greeting:
        for number in range(20):
            assert greeting.hello(name=str(number)) == f"Hello, {number}!"
        with pytest.raises(MethodNotFound):  # answered from a greenthread of its own
            greeting.nothing_here()
    assert spawned == ["RpcConsumer.handle_result"]


def test_the_worker_reads_its_requests_through_the_buffered_transport(container_factory, worker_config, frames_read):
    # frames_read records what BufferedTCPTransport reads: nothing unless the container installed it
    container_factory(GreetingService, worker_config).start()  # installs it (workers/runtime/transport.py)
    with ServiceRpcProxy("greeting_service", worker_config) as greeting:
        assert greeting.hello(name="buffered") == "Hello, buffered!"
    # the request's Basic.Deliver (class 60, method 60), its routing key the service's method
    deliveries = [payload for _, _, payload in frames_read if payload[:4] == b"\x00\x3c\x00\x3c"]
    assert any(b"greeting_service.hello" in payload for payload in deliveries)


def test_with_every_slot_busy_the_consumer_still_receives_replies(container_factory, worker_config):
    """max_workers=1, the slot held by a worker (not from the queue, as a timer's) waiting for
    another service's reply, which this service's one consumer receives; meanwhile a request
    arrives. Spawning its worker in the consumer would wait for the slot, the slot for the reply,
    the reply for the consumer."""
    container_factory(CalleeService, worker_config).start()
    caller = container_factory(CallerService, {**worker_config, "max_workers": 1})
    caller.start()
    spawned = record_managed_threads(caller)

    def hold_the_slot():
        with entrypoint_hook(caller, "relay") as relay:
            return relay("there and back", delay=1)

    with ServiceRpcProxy("consumer_caller", worker_config) as proxy, eventlet.Timeout(20):
        relayed = eventlet.spawn(hold_the_slot)
        eventlet.sleep(0.3)  # relay's worker holds the slot, waiting for echo
        assert not caller.has_free_worker()
        assert proxy.ping() == "pong"
        assert relayed.wait() == "there and back"
    assert any(name and name.startswith("RpcConsumer.handle_message") for name in spawned), spawned


def test_a_slot_a_queued_greenthread_waits_for_is_not_free(container_factory, worker_config):
    """The moment a worker's slot frees, a greenthread queued for one (a timer's tick spawns its
    worker that way) has not taken it yet: `free()` says 1, but eventlet's semaphore makes a
    newcomer wait behind it, so a consumer spawning then would wait in the spawn, and the replies
    the busy workers wait for with it."""
    container = container_factory(GreetingService, {**worker_config, "max_workers": 1})
    pool = container._worker_pool
    release = eventlet.event.Event()
    holder = pool.spawn(release.wait)
    queued = eventlet.spawn(pool.spawn, lambda: "queued")
    eventlet.sleep(0)  # queued waits for the slot
    assert not container.has_free_worker()
    seen = []  # runs in the holder's greenthread right after the pool's own link frees its slot
    holder.link(lambda _: seen.append((pool.free(), container.has_free_worker())))
    release.send()
    with eventlet.Timeout(5):
        assert queued.wait().wait() == "queued"
    assert seen == [(1, False)]
    assert container.has_free_worker()


def test_at_debug_nameko_runs_its_own_worker_steps(container_factory, worker_config, caplog):
    container = container_factory(GreetingService, worker_config)
    container.start()
    with (
        caplog.at_level(logging.DEBUG, logger="nameko.containers"),
        ServiceRpcProxy("greeting_service", worker_config) as greeting,
    ):
        assert greeting.hello(name="debug") == "Hello, debug!"
    assert any(record.getMessage().startswith("ran worker") for record in caplog.records)


# The body of nameko's ServiceContainer._run_worker that workers/runtime/container.py copies,
# without its logging. When a nameko upgrade changes it, this fails: compare the two and update
# the copy (and this digest).
RUN_WORKER_SHA256 = "7418dcb7046936772c8a20a5ab4b7da6faa9462cd8158351013a173acdd3800f"


def test_the_copied_worker_steps_are_still_nameko_s():
    source = inspect.getsource(NamekoServiceContainer._run_worker)
    assert hashlib.sha256(source.encode()).hexdigest() == RUN_WORKER_SHA256
