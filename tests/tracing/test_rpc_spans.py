"""The gateway's RPC client spans and their outcomes, for both clients, on the real broker: the
runners' span around each call (as with tracing on), the context in the request's headers as the
worker sees it, and timeout / unknown service / connection lost / typed errors told apart.

In-process, with an in-memory exporter: tracing is switched on here by hand (the apps read the
environment once, at import, which these tests do not set)."""

import asyncio

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import gateway.tracing
from gateway.http import runners
from gateway.rpc import asyncio_client, proxy_pool
from gateway.rpc.asyncio_client import AsyncRpcClient
from gateway.rpc.calls import Caller, NotConnected, RpcCall, RpcTimeout, UnknownService
from gateway.rpc.proxy_pool import ProxyPool
from gateway.settings import Settings
from schemas.errors import NotFound, ServiceUnavailable
from telemetry import SENT_AT
from telemetry.rpc import client_span, record_outcome, trace_headers
from tests.support.probe import HUNG, PROBE

CALLER = Caller("req-traced", "testOperation")


@pytest.fixture
def exported(monkeypatch):
    """Tracing on for the runners and both clients, spans kept in memory."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(gateway.tracing, "_tracer", lambda: provider.get_tracer("test"))
    monkeypatch.setattr(gateway.tracing, "client_span", client_span)
    monkeypatch.setattr(runners.AsgiRunner, "call", runners.AsgiRunner._traced_call)
    monkeypatch.setattr(runners.WsgiRunner, "call", runners.WsgiRunner._traced_call)
    monkeypatch.setattr(asyncio_client, "TRACING", True)
    monkeypatch.setattr(asyncio_client, "trace_headers", trace_headers)
    monkeypatch.setattr(proxy_pool, "TRACING", True)
    monkeypatch.setattr(proxy_pool, "trace_headers", trace_headers)
    yield exporter
    provider.shutdown()


def only(exporter):
    spans = exporter.get_finished_spans()
    assert len(spans) == 1, spans
    exporter.clear()
    return spans[0]


def check_context_reached_the_worker(seen, span):
    context = span.get_span_context()
    version, trace_id, span_id, flags = seen["data"]["traceparent"].split("-")
    assert (version, trace_id, span_id) == ("00", f"{context.trace_id:032x}", f"{context.span_id:016x}")
    assert int(flags, 16) & 1  # sampled
    assert int(seen["data"][SENT_AT]) > 0
    assert seen["data"]["request_id"] == "req-traced"  # nameko's own context, beside it


def check_span(span, service, method, error_type=None):
    assert span.name == f"{service}/{method}" and span.kind.name == "CLIENT"
    assert span.attributes["rpc.system"] == "nameko"
    assert (span.attributes["rpc.service"], span.attributes["rpc.method"]) == (service, method)
    if error_type is None:
        assert span.status.status_code == StatusCode.UNSET and "error.type" not in span.attributes
    else:
        assert span.status.status_code == StatusCode.ERROR
        assert span.attributes["error.type"] == error_type


async def test_the_asgi_client_spans_and_propagates(services_on_vhost, exported):
    rpc = AsyncRpcClient(services_on_vhost.amqp, timeout=0.5, connections=1, connection_name="travel-test-traced")
    runner = runners.AsgiRunner(rpc, Settings(amqp_uri=services_on_vhost.amqp))
    await rpc.start()
    try:
        assert await rpc.wait_connected(5)
        seen = await runner.call(PROBE, CALLER)
        span = only(exported)
        check_span(span, "probe_service", "context")
        check_context_reached_the_worker(seen, span)

        with pytest.raises(RpcTimeout):
            await runner.call(HUNG, CALLER)
        check_span(only(exported), "airports_service", "get", "timeout")

        with pytest.raises(UnknownService):
            await runner.call(RpcCall("nobody_service", "anything"), CALLER)
        check_span(only(exported), "nobody_service", "anything", "unknown_service")

        # the connection drops mid-call: the call is republished on the new connection (same
        # correlation id) and so stays one span, which ends as the call does
        hung = RpcCall(HUNG.service, HUNG.method, HUNG.kwargs, timeout=1.5)
        pending = asyncio.ensure_future(runner.call(hung, CALLER))
        await asyncio.sleep(0.2)
        rpc.links[0].connection.transport.abort()
        with pytest.raises(RpcTimeout):
            await pending
        check_span(only(exported), "airports_service", "get", "timeout")

        # a call pending while the client closes has lost its connection for good
        pending = asyncio.ensure_future(
            runner.call(RpcCall(HUNG.service, HUNG.method, HUNG.kwargs, timeout=10), CALLER)
        )
        await asyncio.sleep(0.2)
        await rpc.close()
        with pytest.raises(NotConnected):
            await pending
        check_span(only(exported), "airports_service", "get", "connection_lost")
    finally:
        await rpc.close()


def test_the_wsgi_pool_spans_and_propagates(services_on_vhost, exported):
    pool = ProxyPool({"AMQP_URI": services_on_vhost.amqp}, size=2, timeout=0.5)
    runner = runners.WsgiRunner(pool, Settings(amqp_uri=services_on_vhost.amqp))
    try:
        seen = runner.call(PROBE, CALLER)
        span = only(exported)
        check_span(span, "probe_service", "context")
        check_context_reached_the_worker(seen, span)
        # the pool puts nameko's context in `nameko.*` headers; the trace context
        # travels in the W3C names only, never a stale copy beside it
        assert "nameko.traceparent" not in seen["data"]

        with pytest.raises(RpcTimeout):
            runner.call(HUNG, CALLER)
        check_span(only(exported), "airports_service", "get", "timeout")

        with pytest.raises(UnknownService):
            runner.call(RpcCall("nobody_service", "anything"), CALLER)
        check_span(only(exported), "nobody_service", "anything", "unknown_service")
    finally:
        pool.close()


@pytest.mark.parametrize(
    ("exc", "status", "error_type"),
    [
        (NotFound("gone", ["x"]), StatusCode.UNSET, None),
        (ServiceUnavailable("redis down"), StatusCode.ERROR, "schemas.errors.ServiceUnavailable"),
        (RuntimeError("bug"), StatusCode.ERROR, "builtins.RuntimeError"),
    ],
)
def test_typed_errors_are_answers_and_the_rest_are_faults(exc, status, error_type):
    provider = TracerProvider()
    span = provider.get_tracer("test").start_span("x")
    record_outcome(span, exc)
    span.end()
    assert span.status.status_code == status
    assert span.attributes.get("error.type") == error_type
    if error_type is None:
        assert span.attributes["travel.error"] == "NotFound"


@pytest.mark.parametrize(
    ("properties", "headers_sent_at", "expected"),
    [
        ({"timestamp": 1_700_000_000}, None, 1_700_000_000_000),  # AMQP's: seconds (py-amqp gives an int)
        ({"timestamp": 1_700_000_000}, "1700000000123", "1700000000123"),  # the caller's finer one wins
        ({}, None, None),  # neither: no queue wait
    ],
)
def test_the_worker_takes_the_time_sent_from_the_header_or_the_amqp_timestamp(properties, headers_sent_at, expected):
    from types import SimpleNamespace

    from workers.common.tracing import received

    data = {} if headers_sent_at is None else {SENT_AT: headers_sent_at}
    received(SimpleNamespace(properties=properties), data)
    assert data.get(SENT_AT) == expected
