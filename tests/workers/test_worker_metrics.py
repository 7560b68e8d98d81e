"""The workers' call metrics (workers/common/metrics.py WorkerCalls) expose what prometheus_client's
own Counter, Histogram and Gauge expose for the same calls, bucket edges included."""

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from telemetry.metrics import LATENCY_BUCKETS
from workers.common.metrics import WorkerCalls

pytestmark = pytest.mark.fast

# durations on, just below and just above bucket edges, and past the last one
DURATIONS = [0.001, 0.0009, 0.0011, 0.0025, 0.3, 10, 11, 0.0]
CALLS = [("airports_service", "get", "ok"), ("airports_service", "get", "NotFound"), ("trips_service", "create", "ok")]


def exposition(registry):
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
        if not sample.name.endswith("_created")
    }


def test_the_exposition_is_prometheus_clients_own():
    theirs = CollectorRegistry()
    calls = Counter("nameko_worker_calls_total", "c", ["service", "method", "outcome"], registry=theirs)
    durations = Histogram(
        "nameko_worker_call_duration_seconds", "d", ["service", "method"], buckets=LATENCY_BUCKETS, registry=theirs
    )
    in_flight = Gauge("nameko_worker_calls_in_flight", "g", ["service"], registry=theirs)
    ours_registry, ours = CollectorRegistry(), WorkerCalls()
    ours_registry.register(ours)

    for index, seconds in enumerate(DURATIONS):
        service, method, outcome = CALLS[index % len(CALLS)]
        in_flight.labels(service).inc()
        ours.started(service)
        calls.labels(service, method, outcome).inc()
        durations.labels(service, method).observe(seconds)
        in_flight.labels(service).dec()
        ours.finished(service, method, outcome, seconds)
    ours.started("greeting_service")  # one still in flight
    in_flight.labels("greeting_service").inc()

    assert exposition(ours_registry) == exposition(theirs)
    assert (
        exposition(ours_registry)[("nameko_worker_calls_in_flight", frozenset({("service", "greeting_service")}))] == 1
    )
