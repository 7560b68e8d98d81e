"""The worker pool of a service container: eventlet's GreenPool, but a call runs on a greenthread
kept from an earlier call instead of a new one.

A new greenthread per call cost about 25 µs of a worker's CPU on Python 3.11 (a greenlet, the
16 KiB data stack its first frame maps and unmaps, the hub's timer that starts it, its links);
handing a call to a parked greenthread costs a switch. Each call still runs in an empty
contextvars context, as a new greenthread would. What nameko's container does with a worker's
greenthread (`link`, `kill`, `wait`) it does with the `Call` that `spawn` returns; the pool's
semaphore, `coroutines_running` and `waitall` are GreenPool's. Measured: BENCHMARKS.md,
"2026-12-07 (evening): acks built by hand, greenthreads kept"; docs/design.md, "Worker
greenthreads kept from call to call".
"""

import contextvars
import sys

import greenlet
from eventlet import getcurrent, hubs
from eventlet.event import Event
from eventlet.greenpool import GreenPool
from eventlet.greenthread import GreenThread, kill


class Call:
    """A function run on a kept greenthread: the parts of eventlet's GreenThread that nameko's
    container uses (`link`, `kill`, `wait`)."""

    __slots__ = ("_function", "_args", "_kwargs", "_links", "_done", "_runner")

    def __init__(self, function, args, kwargs):
        self._function, self._args, self._kwargs = function, args, kwargs
        self._links = []
        self._done = Event()
        self._runner = None  # the greenthread running it, once started

    def link(self, func, *args, **kwargs):
        """Call `func(call, *args, **kwargs)` when the call ends (at once if it has)."""
        self._links.append((func, args, kwargs))
        if self._done.ready():
            self._resolve_links()

    def wait(self):
        """The function's result, or raise what it raised (GreenletExit if it was killed)."""
        return self._done.wait()

    def kill(self, *throw_args):
        """End the call with GreenletExit (or `throw_args`), as eventlet's kill ends a greenthread:
        one not started yet never runs; a running one gets the exception where it waits."""
        if self._done.ready():
            return
        if self._runner is None:
            exc = throw_args[1] if throw_args else greenlet.GreenletExit()
            self._finish(None, (type(exc), exc, None))
            return
        kill(self._runner, *throw_args)

    def run(self, runner):
        """Run the function on `runner` (the current greenthread); False if the call was killed,
        so the runner must end too."""
        self._runner = runner
        try:
            result = contextvars.Context().run(self._function, *self._args, **self._kwargs)
        except BaseException:
            exc_info = sys.exc_info()
            self._finish(None, exc_info)
            if isinstance(exc_info[1], (SystemExit, KeyboardInterrupt)):
                raise
            return not isinstance(exc_info[1], greenlet.GreenletExit)
        self._finish(result, None)
        return True

    def _finish(self, result, exc_info):
        if exc_info is None:
            self._done.send(result)
        else:
            self._done.send_exception(*exc_info)
        self._function = self._args = self._kwargs = None
        self._resolve_links()

    def _resolve_links(self):
        while self._links:
            func, args, kwargs = self._links.pop(0)
            func(self, *args, **kwargs)


class ReusedGreenPool(GreenPool):
    """GreenPool whose `spawn` hands the function to a parked greenthread of the pool (or a new one
    when none is parked) and returns a `Call`. A call that spawns into its own full pool waits
    for a slot, where GreenPool would run it inline; nameko's workers never do. `close()` ends the
    parked greenthreads (the container's stop and kill call it)."""

    def __init__(self, size):
        super().__init__(size)
        self._parked = []  # greenthreads waiting in the hub for their next call

    def spawn(self, function, *args, **kwargs):
        self.sem.acquire()
        call = Call(function, args, kwargs)
        if not self.coroutines_running:
            self.no_coros_running = Event()
        self.coroutines_running.add(call)
        call.link(self._spawn_done)  # GreenPool's: frees the slot, ends waitall
        runner = self._parked.pop() if self._parked else None
        hubs.get_hub().schedule_call_global(0, self._hand_over, runner, call)
        return call

    def close(self):
        """End the parked greenthreads (each holds its stack until then)."""
        for runner in list(self._parked):
            kill(runner)  # it leaves _parked and ends (_serve)
        self._parked.clear()

    def _hand_over(self, runner, call):
        """Switch to `runner` with `call`; to a new greenthread when there is none, or when the
        one claimed for it ended meanwhile (an exception thrown into it while it was parked)."""
        if runner is None or runner.dead:
            # a GreenThread, not a bare greenlet: eventlet's green threading gives it a Thread of
            # its own (logging asks for one per record) instead of searching for one each time
            runner = GreenThread(hubs.get_hub().greenlet)
            runner.switch(self._serve, (call,), {})
        else:
            runner.switch(call)

    def _serve(self, call):
        """A kept greenthread: run each call handed over, park in the hub between them."""
        runner = getcurrent()
        hub = hubs.get_hub()
        while True:
            if not call._done.ready() and not call.run(runner):  # killed (or killed before it started)
                return
            call = None  # a parked greenthread keeps nothing of the call it ran
            self._parked.append(runner)
            try:
                call = hub.switch()
            except BaseException:  # thrown into it while parked: close(), or a timeout a call left behind
                call = None
            if not isinstance(call, Call):  # that, or switched into by something else: leave the pool
                if runner in self._parked:
                    self._parked.remove(runner)
                return  # if a call was handed to it meanwhile, _hand_over gives it a new greenthread
