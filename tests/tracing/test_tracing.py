"""Tracing end to end: the real stack (`nameko run`, both gateways as users run them, the broker,
Redis) exporting to an OTLP/HTTP receiver of the test's own (devstack/otlp_sink.py, decoding the
protobuf with opentelemetry-proto)."""

import json
import random
import time
import uuid

import pytest
import requests

from devstack.layout import SERVICE_NAMES
from devstack.otlp_sink import OtlpSink
from devstack.processes import wait_for_services
from tests.support import broker
from tests.support.processes import nameko_run, start_gateway, worker_env
from tests.support.servers import REDIS_URI, amqp_uri

GATEWAYS = ["asgi", "wsgi"]


def otel_env(sink, **extra):
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": sink.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # ms: spans reach the receiver quickly
        "OTEL_TRACES_SAMPLER": "parentbased_always_on",
        **extra,
    }


@pytest.fixture(scope="module")
def sink():
    receiver = OtlpSink().start()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def traced(sink, redis_prefix):
    """The services and both gateways with tracing on, on a vhost and a Redis prefix of their own
    (the session's workers, on the session's prefix, would otherwise sweep this module's queued
    releases with their own timers, untraced)."""
    vhost = broker.create_vhost("travel-test-tracing")
    amqp = amqp_uri(vhost)
    redis_prefix = f"{redis_prefix}tracing:"
    env = worker_env(amqp, REDIS_URI, redis_prefix, TRIP_RELEASE_RETRY=1, **otel_env(sink))
    workers = nameko_run(env, name="traced-workers")
    gateways = {}
    try:
        wait_for_services(amqp, SERVICE_NAMES, [workers])
        for kind in GATEWAYS:
            gateways[kind] = start_gateway(kind, {**env, "LOG_LEVEL": "INFO"})
        yield {"workers": workers, "gateways": gateways, "redis_prefix": redis_prefix}
    finally:
        for process, _ in gateways.values():
            process.close()
        workers.close()
        broker.delete_vhost(vhost)


def new_ids():
    return f"{random.getrandbits(128):032x}", f"{random.getrandbits(64):016x}"


def airport(url):
    reply = requests.post(f"{url}/airports", json={"name": "Traced"}, timeout=10)
    assert reply.status_code == 201, reply.text
    return reply.json()["id"]


def trace_of(spans, trace_id):
    return [s for s in spans if s.trace_id == trace_id]


def one(spans, **match):
    found = [s for s in spans if all(getattr(s, k) == v for k, v in match.items())]
    assert len(found) == 1, f"{match}: {len(found)} among\n" + "\n".join(map(str, spans))
    return found[0]


def complete_create(trace_id):
    """A predicate: the trace of a POST /trips has arrived whole (HTTP server span last to end)."""

    def done(spans):
        mine = trace_of(spans, trace_id)
        names = {(s.service, s.name) for s in mine}
        return {
            ("gateway", "POST /trips"),
            ("airports_service", "EVALSHA hold_airports"),
            ("trips_service", "EVALSHA create_trip"),
            ("trips_service", "trips_service/create"),
        } <= names

    return done


@pytest.mark.parametrize("kind", GATEWAYS)
def test_a_trip_create_is_one_trace_across_gateway_trips_and_airports(traced, sink, kind):
    process, url = traced["gateways"][kind]
    ends = [airport(url), airport(url)]
    request_id = f"traced-{uuid.uuid4().hex}"
    reply = requests.post(
        f"{url}/trips",
        json={"airport_from": ends[0], "airport_to": ends[1]},
        headers={"X-Request-ID": request_id},
        timeout=10,
    )
    assert reply.status_code == 201, reply.text

    spans = sink.wait_for(lambda spans: any(s.attributes.get("travel.request_id") == request_id for s in spans))
    trace_id = next(s.trace_id for s in spans if s.attributes.get("travel.request_id") == request_id)
    spans = trace_of(sink.wait_for(complete_create(trace_id)), trace_id)
    assert {s.service for s in spans} >= {"gateway", "trips_service", "airports_service"}

    http = one(spans, service="gateway", kind="SERVER")
    assert http.name == "POST /trips" and http.parent_span_id == ""
    assert http.attributes["http.route"] == "/trips"
    # the stable HTTP semantic conventions (OTEL_SEMCONV_STABILITY_OPT_IN's default here)
    assert (http.attributes["http.request.method"], http.attributes["http.response.status_code"]) == ("POST", 201)
    client = one(spans, service="gateway", kind="CLIENT", name="trips_service/create")
    assert client.parent_span_id == http.span_id
    assert client.attributes["rpc.system"] == "nameko"
    assert (client.attributes["rpc.service"], client.attributes["rpc.method"]) == ("trips_service", "create")
    server = one(spans, service="trips_service", kind="SERVER", name="trips_service/create")
    assert server.parent_span_id == client.span_id
    assert server.attributes["nameko.queue_wait_ms"] >= 0
    assert server.attributes["travel.request_id"] == request_id
    hold_call = one(spans, service="trips_service", kind="CLIENT", name="airports_service/hold")
    assert hold_call.parent_span_id == server.span_id
    hold = one(spans, service="airports_service", kind="SERVER", name="airports_service/hold")
    assert hold.parent_span_id == hold_call.span_id
    script = script_span(spans, "airports_service", "hold_airports")
    assert script.parent_span_id == hold.span_id and script.kind == "CLIENT"
    assert "redis.call" not in str(script.attributes)  # never the Lua source
    assert script.attributes["db.system.name"] == "redis"
    for name in ("promise_holds", "create_trip"):
        assert script_span(spans, "trips_service", name).parent_span_id == server.span_id
    # The only errors: a script's first call on a Redis that does not have it yet (NOSCRIPT: redis-py
    # loads it, as `SCRIPT LOAD <name>`, and calls it again).
    assert all("NoScript" in s.status_message for s in spans if s.status == "ERROR")


def script_span(spans, service, name):
    """The span of the successful call of a Lua script (after a NOSCRIPT, there are two)."""
    calls = [s for s in spans if s.service == service and s.name == f"EVALSHA {name}" and s.status != "ERROR"]
    assert len(calls) == 1, "\n".join(map(str, spans))
    failed = [s for s in spans if s.service == service and s.name == f"EVALSHA {name}" and s.status == "ERROR"]
    if failed:
        assert any(s.name == f"SCRIPT LOAD {name}" for s in spans)
    return calls[0]


@pytest.mark.parametrize("kind", GATEWAYS)
def test_an_incoming_traceparent_is_continued_and_logged(traced, sink, kind):
    process, url = traced["gateways"][kind]
    trace_id, parent_id = new_ids()
    missing = "0" * 32
    reply = requests.get(
        f"{url}/airports/{missing}",
        headers={"traceparent": f"00-{trace_id}-{parent_id}-01", "tracestate": "vendor=1"},
        timeout=10,
    )
    assert reply.status_code == 404

    def arrived(spans):
        return {s.service for s in trace_of(spans, trace_id)} >= {"gateway", "airports_service"} and any(
            s.kind == "SERVER" and s.service == "gateway" for s in trace_of(spans, trace_id)
        )

    spans = trace_of(sink.wait_for(arrived), trace_id)
    http = one(spans, service="gateway", kind="SERVER")
    assert http.parent_span_id == parent_id and http.name == "GET /airports/{airport_id}"
    assert http.status != "ERROR"  # a 404 is the client's, not a server fault
    server = one(spans, service="airports_service", kind="SERVER")
    assert server.name == "airports_service/get"
    assert server.status == "UNSET" and server.attributes["travel.error"] == "NotFound"
    client = one(spans, service="gateway", kind="CLIENT")
    assert client.status == "UNSET" and server.parent_span_id == client.span_id

    # Log lines name the trace: the gateway's access line, and the worker's line about the error.
    deadline = time.monotonic() + 5
    while trace_id not in process.output() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert any(trace_id in line and "/airports/" in line for line in process.output().splitlines())
    assert any(trace_id in line and server.span_id in line for line in traced["workers"].output().splitlines()), traced[
        "workers"
    ].output()[-2000:]


@pytest.mark.parametrize("kind", GATEWAYS)
def test_a_sampled_out_request_exports_nothing(traced, sink, kind):
    process, url = traced["gateways"][kind]
    ends = [airport(url), airport(url)]
    time.sleep(0.5)  # the airports' spans
    sink.clear()
    trace_id, parent_id = new_ids()
    reply = requests.post(
        f"{url}/trips",
        json={"airport_from": ends[0], "airport_to": ends[1]},
        headers={"traceparent": f"00-{trace_id}-{parent_id}-00"},
        timeout=10,
    )
    assert reply.status_code == 201
    time.sleep(1.0)  # ten times the batch delay
    # Nothing of it: no span of its trace, none of a trip's creation in any trace (the only spans
    # allowed are the airports' above, should one have come late).
    late = sink.snapshot()
    assert not [s for s in late if s.trace_id == trace_id]
    assert not [s for s in late if "trip" in s.name or s.service == "trips_service" or "hold" in s.name], late


def test_a_timer_release_links_to_the_trace_that_queued_it(traced, sink, redis_client):
    from workers.trips.storage import TripStore

    process, url = traced["gateways"]["asgi"]
    ends = [airport(url), airport(url)]
    reply = requests.post(f"{url}/trips", json={"airport_from": ends[0], "airport_to": ends[1]}, timeout=10)
    trip = reply.json()
    # A delete whose inline release did not happen (airports_service was down, say): the record is
    # gone and the release queued, with the traceparent of the request that deleted it.
    cause_trace, cause_span = new_ids()
    store = TripStore(redis_client, traced["redis_prefix"], {})
    stored, now = store.get_stored(trip["id"]), int(time.time() * 1000)
    assert store.delete(stored, now, cause=f"00-{cause_trace}-{cause_span}-01") == ("deleted", trip["id"])

    def released(spans):
        return any(s.name == "release_holds" and any(link[0] == cause_trace for link in s.links) for s in spans)

    spans = sink.wait_for(released, timeout=20)
    release = next(s for s in spans if s.name == "release_holds" and s.links)
    assert release.service == "trips_service" and release.parent_span_id == ""
    assert release.links[0][:2] == (cause_trace, cause_span)
    spans = trace_of(sink.wait_for(lambda s: len(trace_of(s, release.trace_id)) >= 4), release.trace_id)
    # a sweep that finds nothing records nothing (the timer fired at least once since the last clear)
    assert not any(s.name == "EVALSHA due_releases" for s in sink.snapshot())
    call = one(spans, kind="CLIENT", name="airports_service/release")
    assert call.parent_span_id == release.span_id
    assert one(spans, kind="SERVER", name="airports_service/release").parent_span_id == call.span_id
    deadline = time.monotonic() + 5
    while redis_client.hget(store.keys("causes"), trip["id"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert redis_client.hget(store.keys("causes"), trip["id"]) is None  # forgotten once released


def test_a_call_without_context_starts_a_trace_in_the_worker(traced, sink):
    """As from `nameko shell` or any unmodified nameko caller: nameko's own ClusterRpcProxy."""
    from nameko.standalone.rpc import ClusterRpcProxy

    amqp = traced["workers"].env["AMQP_URI"]
    marker = f"shell-{uuid.uuid4().hex}"
    with ClusterRpcProxy({"AMQP_URI": amqp}, context_data={"request_id": marker}, timeout=10) as rpc:
        assert rpc.greeting_service.hello(name="traces") == "Hello, traces!"
    spans = sink.wait_for(lambda spans: any(s.attributes.get("travel.request_id") == marker for s in spans))
    span = next(s for s in spans if s.attributes.get("travel.request_id") == marker)
    assert (span.service, span.name, span.kind, span.parent_span_id) == (
        "greeting_service",
        "greeting_service/hello",
        "SERVER",
        "",
    )


def test_json_logs_carry_trace_and_span_ids(sink, redis_prefix, fresh_vhost):
    amqp = amqp_uri(fresh_vhost)
    env = worker_env(amqp, REDIS_URI, redis_prefix, LOG_FORMAT="json", **otel_env(sink))
    workers = nameko_run(env, modules=("workers.greeting", "workers.airports"), name="traced-json")
    try:
        wait_for_services(amqp, ["greeting_service", "airports_service"], [workers])
        process, url = start_gateway("asgi", {**env, "LOG_LEVEL": "INFO"})
        try:
            trace_id, parent_id = new_ids()
            requests.get(f"{url}/health/ready", headers={"traceparent": f"00-{trace_id}-{parent_id}-01"}, timeout=10)
            deadline = time.monotonic() + 5
            while trace_id not in process.output() and time.monotonic() < deadline:
                time.sleep(0.1)
            lines = [json.loads(line) for line in process.output().splitlines() if line.startswith("{")]
            access = [line for line in lines if line.get("trace_id") == trace_id]
            assert access and len(access[0]["span_id"]) == 16 and access[0]["request_id"]
            # a worker's line (the warning about a typed error) in the trace of its request
            trace_id, parent_id = new_ids()
            missing = requests.get(
                f"{url}/airports/{'0' * 32}", headers={"traceparent": f"00-{trace_id}-{parent_id}-01"}, timeout=10
            )
            assert missing.status_code == 404
            deadline = time.monotonic() + 5
            while trace_id not in workers.output() and time.monotonic() < deadline:
                time.sleep(0.1)
            lines = [json.loads(line) for line in workers.output().splitlines() if line.startswith("{")]
            worker = [line for line in lines if line.get("trace_id") == trace_id]
            assert worker and len(worker[0]["span_id"]) == 16 and worker[0]["logger"] == "nameko.containers"
        finally:
            process.close()
    finally:
        workers.close()
