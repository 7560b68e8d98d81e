"""The gateway's Prometheus metrics, served at /metrics.

Safe under servers that fork workers (gunicorn -w N, uvicorn --workers N): set
PROMETHEUS_MULTIPROC_DIR to an empty directory before start, and the metrics of every worker
process are summed at scrape time (prometheus_client's multiprocess mode; with gunicorn, also
use `-c gateway/gunicorn.conf.py` so dead workers are forgotten).
"""

import http
import logging
import os
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)

from telemetry.metrics import LATENCY_BUCKETS

log = logging.getLogger("gateway")


class Children:
    """`metric.labels(*values)`, remembered: labels() validates and converts its arguments on
    every call, which shows on the hot path. Label values are bounded (routes, methods, statuses,
    service methods, outcomes), and so is this cache."""

    def __init__(self, metric):
        self.metric, self.cache = metric, {}

    def __call__(self, *values):
        child = self.cache.get(values)
        if child is None:
            child = self.cache[values] = self.metric.labels(*values)
        return child


HTTP_REQUESTS = Counter("gateway_http_requests_total", "HTTP requests answered", ["route", "method", "status"])
HTTP_DURATION = Histogram(
    "gateway_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)
HTTP_IN_FLIGHT = Gauge("gateway_http_requests_in_flight", "HTTP requests being answered", multiprocess_mode="livesum")
RPC_CALLS = Counter("gateway_rpc_calls_total", "RPC calls made, by service.method and outcome", ["call", "outcome"])
RPC_DURATION = Histogram(
    "gateway_rpc_call_duration_seconds", "Time from publishing a call to its reply", ["call"], buckets=LATENCY_BUCKETS
)
RPC_IN_FLIGHT = Gauge("gateway_rpc_calls_in_flight", "RPC calls waiting for a reply", multiprocess_mode="livesum")
PENDING_REPLIES = Gauge(
    "gateway_rpc_pending_replies",
    "Calls the ASGI client still expects a reply for (its own bookkeeping; single-process mode)",
)
BROKER_CONNECTIONS = Gauge(
    "gateway_broker_connections", "AMQP connections up (ASGI client)", multiprocess_mode="livesum"
)
BROKER_REACHABLE = Gauge(
    "gateway_broker_reachable",
    "1 while the RPC client has a usable broker connection (ASGI: a link up; WSGI: the port answered), set at scrape",
    multiprocess_mode="livemin",
)
LATE_REPLIES = Counter("gateway_rpc_late_replies_total", "Replies that came after their call gave up")
REPUBLISHED = Counter(
    "gateway_rpc_republished_total",
    "Copies of calls published again: their link was lost, or a node was and they had no answer",
)
POOL_PROXIES = Gauge(
    "gateway_rpc_pool_proxies", "AMQP links in the pool (WSGI)", ["state"], multiprocess_mode="livesum"
)
POOL_WAITING = Gauge("gateway_rpc_pool_waiting", "Threads waiting for a free proxy (WSGI)", multiprocess_mode="livesum")
POOL_EVENTS = Counter(
    "gateway_rpc_pool_events_total", "Proxies created, stopped, and checkouts refused (WSGI)", ["event"]
)


http_requests, http_duration = Children(HTTP_REQUESTS), Children(HTTP_DURATION)
rpc_calls, rpc_duration = Children(RPC_CALLS), Children(RPC_DURATION)
pool_proxies, pool_events = Children(POOL_PROXIES), Children(POOL_EVENTS)


# Label values a client chooses are bounded: a method outside these, or a status outside HTTP's
# registry, is counted as "other" (a route outside the table is "unmatched": middleware.py).
KNOWN_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"))
KNOWN_STATUSES = frozenset(status.value for status in http.HTTPStatus)
OTHER = "other"


def method_label(method):
    return method if method in KNOWN_METHODS else OTHER


def status_label(status):
    return status if status in KNOWN_STATUSES else OTHER


def observe_rpc(rpc_call, started, error):
    """Count and time one finished RPC (`error` None when it succeeded)."""
    name = f"{rpc_call.service}.{rpc_call.method}"
    RPC_IN_FLIGHT.dec()
    rpc_calls(name, "ok" if error is None else type(error).__name__).inc()
    rpc_duration(name).observe(time.perf_counter() - started)


def watch_pending(count):
    """Report `count()` as gateway_rpc_pending_replies at scrape time (prometheus_client cannot
    sum such callbacks across processes, so multiprocess mode leaves it out)."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        PENDING_REPLIES.set_function(count)


def exposition():
    """(body, content type) of the current metrics, across processes in multiprocess mode."""
    return generate_latest(_registry()), CONTENT_TYPE_LATEST


def _registry():
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def serve_metrics(host, ports):
    """/metrics on the first free one of `ports` (METRICS_PORT) of `host`, a server thread of
    prometheus_client's, off the API's port; True if it serves. None free (the workers' port in a
    shared environment, or a sibling server process's): False, and the caller keeps /metrics on the
    API's port (in multiprocess mode every process there answers with the sum of all)."""
    failure = None
    for port in ports:
        try:
            start_http_server(port, addr=host, registry=_registry())
        except OSError as exc:
            failure = exc
            continue
        log.info("metrics: /metrics on http://%s:%s, not on the API's port", host, port)
        return True
    if ports:
        log.warning("metrics: METRICS_PORT %s taken (%s): /metrics stays on the API's port", ports[0], failure)
    return False
