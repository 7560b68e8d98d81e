"""Stopping without dropping a request (SHUTDOWN_GRACE).

Told to stop (SIGTERM), the gateway first fails its readiness (/health/ready answers 503), keeps
serving for SHUTDOWN_GRACE seconds, so that a balancer health-checking it takes it out of rotation
while it still answers, and only then hands the signal to its server, which stops accepting and
finishes the requests in flight (uvicorn; each gunicorn worker alike). A second SIGTERM meanwhile
changes nothing; SIGINT (Ctrl+C) still stops at once. SHUTDOWN_GRACE 0 (the default) leaves the
servers' own handling as it is. Under Kubernetes, set it to the preStop pause (compose/k8s).
"""

import logging
import os
import signal
import threading

log = logging.getLogger("gateway")

_state = {"draining": False}


def draining():
    """Whether a SIGTERM has come: readiness then fails."""
    return _state["draining"]


def on_sigterm(grace, stop=None):
    """From now on, a SIGTERM starts draining and calls `stop(signum, frame)` `grace` seconds
    later (by default the handler SIGTERM had until now: the server's). Main thread only."""
    if grace <= 0 or threading.current_thread() is not threading.main_thread():
        return
    stop = stop or _handler_of(signal.getsignal(signal.SIGTERM))

    def start_draining(signum, frame):
        if _state["draining"]:
            return
        _state["draining"] = True
        threading.Thread(target=_drain, args=(grace, stop, signum), name="draining", daemon=True).start()

    signal.signal(signal.SIGTERM, start_draining)
    signal.siginterrupt(signal.SIGTERM, False)  # as gunicorn sets it: a request's system calls carry on


def _drain(grace, stop, signum):
    log.info("SIGTERM: readiness fails now; serving for %g s more, then draining", grace)
    threading.Event().wait(grace)
    stop(signum, None)


def _handler_of(previous):
    if callable(previous):
        return previous
    if previous == signal.SIG_IGN:
        return lambda signum, frame: None

    def default(signum, frame):  # no server handler: the default action, as if we had not waited
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    return default


class DrainOnSigterm:
    """ASGI middleware: takes SIGTERM over once uvicorn has installed its own handler (at start-up)."""

    def __init__(self, grace):
        self.grace = grace

    async def process_startup(self, scope, event):
        on_sigterm(self.grace)
