"""Worker metrics and health over HTTP, on a port of the process's own (METRICS_PORT, default
9100-9109; 0 turns it off): /metrics for Prometheus, /health/live and /health/ready for orchestrators.

METRICS_PORT is a port or a range `FIRST-LAST`: the process serves on the first free port of it,
so that instances side by side on one host (the article's second `nameko run`) each get one, and
says which in its log. When none is free it warns, naming the setting, and runs without them.

A DependencyProvider rather than nameko-prometheus: that package serves metrics through an @http
entrypoint each service must declare, on nameko's shared web server; here every service only
declares `metrics = Metrics()` and gets call counts and latencies, and the same small server
answers the health probes too. One server per process, however many services it runs.
"""

import bisect
import logging
import threading
import time
from wsgiref.simple_server import WSGIRequestHandler, make_server

from eventlet.patcher import original
from nameko.extensions import DependencyProvider
from prometheus_client import REGISTRY, Counter, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.utils import floatToGoString

from telemetry.metrics import LATENCY_BUCKETS, parse_ports

log = logging.getLogger(__name__)

DEFAULT_PORTS = "9100-9109"


class WorkerCalls:
    """The workers' call counts, call durations and calls in flight, as a Prometheus collector.

    prometheus_client's own Counter, Histogram and Gauge guard each value with a `threading.Lock`,
    which under `nameko run` (threading monkey-patched) is eventlet's green lock, written in
    Python: five of them per call, 6.7 us against this class's 1.4 (bench/worker_parts.py). Here
    the figures are plain numbers under one lock of the OS's (eventlet's `original`), which is
    safe with greenthreads because nothing yields while holding it; the exposition is the one
    those classes give, minus their `_created` samples.
    """

    def __init__(self, buckets=LATENCY_BUCKETS):
        self._buckets = tuple(buckets)
        self._lock = original("_thread").allocate_lock()
        self._calls = {}  # (service, method, outcome) -> count
        self._durations = {}  # (service, method) -> [count per bucket, the last for +Inf; their sum]
        self._in_flight = {}  # service -> calls being handled now
        self._capacity = {}  # service -> max_workers: the calls it may handle at once

    def capacity(self, service, max_workers):
        with self._lock:
            self._capacity[service] = max_workers

    def started(self, service):
        with self._lock:
            self._in_flight[service] = self._in_flight.get(service, 0) + 1

    def finished(self, service, method, outcome, seconds=None):
        with self._lock:
            self._in_flight[service] = self._in_flight.get(service, 0) - 1
            key = (service, method, outcome)
            self._calls[key] = self._calls.get(key, 0) + 1
            if seconds is not None:
                histogram = self._durations.get((service, method))
                if histogram is None:
                    histogram = self._durations[(service, method)] = [[0] * (len(self._buckets) + 1), 0.0]
                histogram[0][bisect.bisect_left(self._buckets, seconds)] += 1  # buckets count x <= le
                histogram[1] += seconds

    def collect(self):
        with self._lock:
            calls, in_flight, capacity = dict(self._calls), dict(self._in_flight), dict(self._capacity)
            durations = {key: (list(counts), total) for key, (counts, total) in self._durations.items()}
        family = CounterMetricFamily(
            "nameko_worker_calls", "Calls handled by the service's workers", labels=["service", "method", "outcome"]
        )
        for labels, count in calls.items():
            family.add_metric(labels, count)
        yield family
        family = HistogramMetricFamily(
            "nameko_worker_call_duration_seconds", "Time workers took per call", labels=["service", "method"]
        )
        bounds = [*map(floatToGoString, self._buckets), "+Inf"]  # "1.0", as Histogram writes them
        for labels, (counts, total) in durations.items():
            cumulative, running = [], 0
            for bound, count in zip(bounds, counts, strict=True):
                running += count
                cumulative.append((bound, running))
            family.add_metric(labels, cumulative, total)
        yield family
        family = GaugeMetricFamily("nameko_worker_calls_in_flight", "Calls being handled now", labels=["service"])
        for service, count in in_flight.items():
            family.add_metric([service], count)
        yield family
        family = GaugeMetricFamily(
            "nameko_worker_max_workers", "Calls the service may handle at once (max_workers)", labels=["service"]
        )
        for service, count in capacity.items():
            family.add_metric([service], count)
        yield family


WORKER_CALLS = WorkerCalls()
REGISTRY.register(WORKER_CALLS)
# Reads sent to a replica because the primary could not be reached: a Redis failover (Sentinel) is
# under way. Counted only on that rare path, so prometheus_client's own Counter (a green lock) is fine.
REDIS_REPLICA_READS = Counter(
    "nameko_worker_redis_replica_reads", "Reads served by a Redis replica while the primary was unreachable"
)


class _Server:
    """The process's metrics and health server, started by the first service that asks.
    Ready while the process runs services (nameko run exits when one of them dies)."""

    lock = threading.Lock()
    started_port = None
    running = set()  # names of the services started in this process

    @classmethod
    def ensure(cls, ports, service):
        with cls.lock:
            cls.running.add(service)
            if cls.started_port is not None or not ports:
                return
            for port in ports:
                try:
                    server = make_server("0.0.0.0", port, cls.app, handler_class=_QuietHandler)
                    break
                except OSError as exc:
                    failure = exc
            else:  # the services still work; only their metrics and health endpoints are missing
                log.warning(
                    "metrics and health not served: %s (%s; another worker instance on this host? "
                    "set METRICS_PORT to a free port or a range such as 9100-9109, or 0 for none)",
                    _describe(ports),
                    failure,
                )
                return
            threading.Thread(target=server.serve_forever, name="metrics-server", daemon=True).start()
            cls.started_port = port
            taken = "" if port == ports[0] else f" ({_describe(ports[: ports.index(port)])} taken)"
            log.info("metrics and health on :%s%s", port, taken)

    @classmethod
    def forget(cls, service):
        with cls.lock:
            cls.running.discard(service)

    metrics_app = staticmethod(make_wsgi_app(REGISTRY))

    @classmethod
    def app(cls, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/health/live":
            return cls._answer(start_response, "200 OK", b'{"status": "ok"}')
        if path == "/health/ready":
            ready = bool(cls.running)
            return cls._answer(
                start_response,
                "200 OK" if ready else "503 Service Unavailable",
                b'{"status": "ok"}' if ready else b'{"status": "unavailable"}',
            )
        return cls.metrics_app(environ, start_response)

    @staticmethod
    def _answer(start_response, status, body):
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


def _describe(ports):
    return f":{ports[0]}" if len(ports) == 1 else f":{ports[0]}-{ports[-1]}"


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):  # scrapes and probes every few seconds would drown the log
        pass


class Metrics(DependencyProvider):
    """Counts and times every call of the service; starts the process's /metrics server."""

    def setup(self):
        self._started = {}

    def start(self):
        WORKER_CALLS.capacity(self.container.service_name, self.container.max_workers)
        _Server.ensure(
            parse_ports(self.container.config.get("METRICS_PORT", DEFAULT_PORTS)), self.container.service_name
        )

    def stop(self):
        _Server.forget(self.container.service_name)

    kill = stop

    def worker_setup(self, worker_ctx):
        self._started[worker_ctx] = time.perf_counter()
        WORKER_CALLS.started(worker_ctx.service_name)

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        started = self._started.pop(worker_ctx, None)
        WORKER_CALLS.finished(
            worker_ctx.service_name,
            worker_ctx.entrypoint.method_name,
            "ok" if exc_info is None else exc_info[0].__name__,
            None if started is None else time.perf_counter() - started,
        )
