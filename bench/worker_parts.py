"""The worker's per-call parts, each timed in-process against what it replaced, side by side.

`python -m bench.worker_parts` prints CPU microseconds per call (getrusage, best of five runs) of:

* the worker path without sockets: check the arguments, spawn the worker, the dependencies'
  hooks, greeting_service.hello; with nameko's ServiceContainer and prometheus_client's metrics
  as they were, and with this project's container and metrics;
* a reply's frames: py-amqp's `send_method` (its frame writer) against `reply_frames`;
* a greenthread from spawn through its link to exit: nameko's QueueConsumer makes one per
  message, which workers/runtime/consumer.py no longer does;
* the call metrics: prometheus_client's Counter, Histogram and Gauge against `WorkerCalls`;
* the argument check: `inspect.Signature.bind` against `fits`;
* the request id: eventlet's green `threading.local` against an attribute of the greenlet.

No broker, Redis or network: these are the parts a profile of the real stack points at, timed
where nothing else moves. The whole stack's figures are `python -m bench`'s.
"""

import eventlet

eventlet.monkey_patch()  # as `nameko run` does, before anything imports threading

import argparse  # noqa: E402
import inspect  # noqa: E402
import resource  # noqa: E402
import threading  # noqa: E402

from amqp import Message, spec  # noqa: E402
from amqp.method_framing import frame_writer  # noqa: E402
from amqp.serialization import dumps  # noqa: E402
from nameko.containers import ServiceContainer as NamekoServiceContainer  # noqa: E402
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram  # noqa: E402

from gateway.metrics import Children  # noqa: E402
from telemetry.metrics import LATENCY_BUCKETS  # noqa: E402
from workers.common import metrics  # noqa: E402
from workers.greeting.service import GreetingService  # noqa: E402
from workers.runtime.container import ServiceContainer  # noqa: E402
from workers.runtime.entrypoint import fits  # noqa: E402
from workers.runtime.replies import JSON, reply_frames  # noqa: E402

RUNS, CALLS = 5, 20000
BODY = b'{"result": {"id": "0123456789abcdef0123456789abcdef", "name": "Lisbon", "iata": "LIS"}, "error": null}'
CORRELATION_ID = "5c0a6f2e-1a2b-4c3d-9e8f-0123456789ab"
REPLY_TO = "rpc.reply-gateway-0123456789abcdef"


def cpu_per_call(call, calls=None):
    calls = calls or CALLS
    for _ in range(calls // 10):  # warm up
        call()
    best = None
    for _ in range(RUNS):
        before = resource.getrusage(resource.RUSAGE_SELF)
        for _ in range(calls):
            call()
        after = resource.getrusage(resource.RUSAGE_SELF)
        spent = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / calls * 1e6
        best = spent if best is None else min(best, spent)
    return best


class PrometheusMetrics:
    """The workers' metrics as they were: prometheus_client's Counter, Histogram and Gauge, their
    labelled children cached by the gateway's `Children`, as the workers' hooks used it."""

    def __init__(self):
        registry = CollectorRegistry()
        self.calls = Children(Counter("calls_total", "c", ["service", "method", "outcome"], registry=registry))
        self.durations = Children(
            Histogram("duration_seconds", "d", ["service", "method"], buckets=LATENCY_BUCKETS, registry=registry)
        )
        self.in_flight = Children(Gauge("in_flight", "g", ["service"], registry=registry))

    def started(self, service):
        self.in_flight(service).inc()

    def finished(self, service, method, outcome, seconds=None):
        self.in_flight(service).dec()
        self.calls(service, method, outcome).inc()
        self.durations(service, method).observe(seconds)


def worker_path(container_cls, signature_check, calls_metrics):
    config = {"AMQP_URI": "amqp://guest:guest@127.0.0.1:5672/", "METRICS_PORT": 0, "max_workers": 10}
    container = container_cls(GreetingService, config)
    for extension in container.extensions:  # set up, not started: nothing connects
        extension.setup()
    entrypoint = next(e for e in container.entrypoints if e.method_name == "hello")
    entrypoint.check_signature = signature_check(entrypoint)
    previous, metrics.WORKER_CALLS = metrics.WORKER_CALLS, calls_metrics
    finished = eventlet.event.Event

    def call():
        done = finished()
        entrypoint.check_signature((), {"name": "x"})
        container.spawn_worker(
            entrypoint,
            (),
            {"name": "x"},
            context_data={"request_id": "r"},
            handle_result=lambda *r: done.send() or r[1:],
        )
        done.wait()

    try:
        return cpu_per_call(call)
    finally:
        metrics.WORKER_CALLS = previous


def bind_check(entrypoint):
    signature = inspect.signature(GreetingService.hello)
    return lambda args, kwargs: signature.bind(None, *args, **kwargs)


def own_check(entrypoint):
    return entrypoint.check_signature


def reply_with_py_amqp():
    sink = type("Sink", (), {"write": lambda self, data: None})()
    write = frame_writer(type("Connection", (), {"frame_max": 131072, "bytes_sent": 0})(), sink)

    def call():  # what channel.send_method does with a Message
        message = Message(
            BODY, content_type=JSON, content_encoding="utf-8", correlation_id=CORRELATION_ID, delivery_mode=1
        )
        write(1, 1, spec.Basic.Publish, dumps("Bssbb", (0, "nameko-rpc", REPLY_TO, False, False)), message)

    return call


def greenthread():
    """What nameko's QueueConsumer does per message before the entrypoint sees it."""
    thread = eventlet.spawn(int)
    thread.link(lambda thread: None)
    thread.wait()


def main():
    rows = [
        (
            "worker path (signature, spawn, hooks, hello)",
            worker_path(NamekoServiceContainer, bind_check, PrometheusMetrics()),
            worker_path(ServiceContainer, own_check, metrics.WorkerCalls()),
        ),
        (
            "reply frames",
            cpu_per_call(reply_with_py_amqp()),
            cpu_per_call(lambda: reply_frames(1, 131072, "nameko-rpc", REPLY_TO, CORRELATION_ID, BODY)),
        ),
        ("nameko's greenthread per request (consumer.py)", cpu_per_call(greenthread), 0.0),
    ]
    before, now = PrometheusMetrics(), metrics.WorkerCalls()
    rows.append(
        (
            "call metrics (started, finished)",
            cpu_per_call(lambda: before.started("s") or before.finished("s", "m", "ok", 0.003)),
            cpu_per_call(lambda: now.started("s") or now.finished("s", "m", "ok", 0.003)),
        )
    )
    signature = inspect.signature(GreetingService.hello)
    rows.append(
        (
            "argument check",
            cpu_per_call(lambda: signature.bind(None, name="x"), CALLS * 5),
            cpu_per_call(lambda: fits(("name",), 1, (), {"name": "x"}), CALLS * 5),
        )
    )
    local, current = threading.local(), eventlet.getcurrent

    def green_local():
        local.request_id = "r"
        return local.request_id

    def greenlet_attribute():
        current().travel_request_id = "r"
        return getattr(current(), "travel_request_id", None)

    rows.append(
        ("request id, set and read", cpu_per_call(green_local, CALLS * 5), cpu_per_call(greenlet_attribute, CALLS * 5))
    )
    print(f"{'CPU µs per call':<46} {'before':>8} {'now':>8} {'saved':>8}")
    for name, before, now in rows:
        print(f"{name:<46} {before:>8.1f} {now:>8.1f} {before - now:>8.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=CALLS, help=f"calls per run (default {CALLS})")
    CALLS = parser.parse_args().calls
    eventlet.spawn(main).wait()
