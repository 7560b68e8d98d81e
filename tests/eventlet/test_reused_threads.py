"""The workers' pool of kept greenthreads (workers/runtime/reused_threads.py): a call runs on a
greenthread an earlier call ran on, in a context of its own, and nameko's container can still
link, wait for and kill it as it does a greenthread.

Runs under `nameko test` (eventlet monkey-patched); see tests/conftest.py.
"""

import contextvars
import gc
import itertools
import weakref

import eventlet
import eventlet.event
import eventlet.hubs
import pytest
from greenlet import GreenletExit
from nameko.standalone.rpc import ServiceRpcProxy

from workers.runtime.entrypoint import rpc
from workers.runtime.reused_threads import ReusedGreenPool

pytestmark = pytest.mark.eventlet  # tests/conftest.py says why

REQUEST = contextvars.ContextVar("request", default=None)
NUMBERS = itertools.count()


def test_calls_run_on_kept_greenthreads_each_in_a_context_of_its_own():
    pool = ReusedGreenPool(4)
    seen = []

    def call(number):
        seen.append((eventlet.getcurrent(), REQUEST.get()))
        REQUEST.set(number)  # a new greenthread starts without it; so must the next call here
        eventlet.sleep(0)
        return number * 2

    for _ in range(5):
        calls = [pool.spawn(call, number) for number in range(4)]
        assert [each.wait() for each in calls] == [0, 2, 4, 6]
    assert len({thread for thread, _ in seen}) <= 4  # 20 calls, on at most the pool's size
    assert {value for _, value in seen} == {None}
    assert pool.free() == 4 and pool.running() == 0


def test_links_run_after_the_slot_is_freed_and_at_once_on_an_ended_call():
    pool = ReusedGreenPool(1)
    order = []
    call = pool.spawn(lambda: "done")
    call.link(lambda ended, tag: order.append((tag, ended.wait(), pool.free())), "late-linked")
    pool.waitall()
    call.link(lambda ended: order.append(("after", ended.wait(), pool.free())))
    assert order == [("late-linked", "done", 1), ("after", "done", 1)]


def test_an_error_reaches_wait_and_the_greenthread_serves_the_next_call():
    pool = ReusedGreenPool(1)
    threads = []

    def failing():
        threads.append(eventlet.getcurrent())
        raise ValueError("broken")

    with pytest.raises(ValueError, match="broken"):
        pool.spawn(failing).wait()
    assert pool.spawn(lambda: threads.append(eventlet.getcurrent()) or "next").wait() == "next"
    assert threads[0] is threads[1]


def test_a_killed_call_ends_with_greenlet_exit_and_its_slot_serves_a_new_one():
    pool = ReusedGreenPool(1)
    started, finished = eventlet.event.Event(), []

    def long_call():
        started.send()
        eventlet.sleep(30)
        finished.append("ran to the end")

    call = pool.spawn(long_call)
    started.wait()
    call.kill()
    with pytest.raises(GreenletExit):
        call.wait()
    with eventlet.Timeout(5):
        assert pool.spawn(lambda: "after the kill").wait() == "after the kill"
    assert finished == [] and pool.free() == 1


def test_a_call_killed_before_it_started_never_runs():
    pool = ReusedGreenPool(2)
    ran = []
    call = pool.spawn(ran.append, "ran")
    call.kill()  # before the hub hands it over
    with pytest.raises(GreenletExit):
        call.wait()
    eventlet.sleep(0.01)
    assert ran == [] and pool.free() == 2
    assert pool.spawn(lambda: "still serving").wait() == "still serving"


def test_a_call_handed_to_a_greenthread_that_ended_meanwhile_runs_on_a_new_one():
    """An exception thrown into a parked greenthread (a timeout some call left behind) after
    `spawn` claimed it for a call, before the hub switched to it: the call still runs."""
    pool = ReusedGreenPool(2)
    pool.spawn(lambda: None).wait()
    (claimed,) = pool._parked
    hub = eventlet.hubs.get_hub()
    hub.schedule_call_global(0, claimed.throw, RuntimeError("stray"))  # fires before the hand-over
    call = pool.spawn(lambda: "answered")
    with eventlet.Timeout(5):
        assert call.wait() == "answered"
    assert claimed.dead and pool.free() == 2 and pool.running() == 0


def test_parked_greenthreads_keep_nothing_of_their_calls_and_end_on_close():
    pool = ReusedGreenPool(3)

    class Request:
        pass

    request = Request()
    seen = weakref.ref(request)
    calls = [pool.spawn(lambda value: type(value).__name__, request) for _ in range(3)]
    assert [call.wait() for call in calls] == ["Request"] * 3
    del request, calls
    gc.collect()
    assert seen() is None  # neither the calls' greenthreads nor the pool hold the arguments
    parked = list(pool._parked)
    assert parked
    pool.close()
    assert pool._parked == [] and all(runner.dead for runner in parked)
    assert pool.spawn(lambda: "after close").wait() == "after close"  # a new greenthread, if asked


class SlowService:
    name = "reused_threads_slow"

    @rpc
    def nap(self, seconds):
        eventlet.sleep(seconds)
        return "woke"


def test_a_container_killed_mid_call_kills_its_worker(container_factory, worker_config):
    """nameko's kill() kills the running workers through what `spawn` returned, as it would a
    greenthread: the worker stops where it waits, and the container dies without waiting for it."""
    container = container_factory(SlowService, worker_config)
    container.start()
    with ServiceRpcProxy("reused_threads_slow", worker_config, timeout=5) as slow:
        assert slow.nap(0) == "woke"
        slow.nap.call_async(30)
        with eventlet.Timeout(5):
            while not container._worker_threads:
                eventlet.sleep(0.01)
        (worker,) = container._worker_threads.values()
        with eventlet.Timeout(5):
            container.kill()
        with pytest.raises(GreenletExit):
            worker.wait()
        assert container._worker_pool.running() == 0


class WhoService:
    name = "reused_threads_who"

    @rpc
    def who(self):
        """A number given to the greenthread at its first call (an id could be a dead one's)."""
        current = eventlet.getcurrent()
        if not hasattr(current, "test_number"):
            current.test_number = next(NUMBERS)
        return current.test_number


def test_a_container_s_calls_share_its_kept_greenthreads(container_factory, worker_config):
    container_factory(WhoService, {**worker_config, "max_workers": 2}).start()
    with ServiceRpcProxy("reused_threads_who", worker_config, timeout=5) as service:
        threads = {service.who() for _ in range(20)}
    assert len(threads) <= 2  # nameko's pool: a greenthread of its own per call, 20


def test_a_stopped_container_ends_its_parked_greenthreads(container_factory, worker_config):
    container = container_factory(WhoService, worker_config)
    container.start()
    with ServiceRpcProxy("reused_threads_who", worker_config, timeout=5) as service:
        service.who()
    parked = list(container._worker_pool._parked)
    assert parked
    container.stop()
    assert container._worker_pool._parked == [] and all(runner.dead for runner in parked)
