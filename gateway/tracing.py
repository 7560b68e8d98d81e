"""Tracing in the gateway (see telemetry/ for when it is on and how it is configured).

* The HTTP server span: opentelemetry-instrumentation-asgi around the ASGI app and
  opentelemetry-instrumentation-wsgi around the WSGI app (gateway/asgi.py, gateway/wsgi.py). They
  continue an incoming W3C `traceparent`/`tracestate` or start a trace, and set the status from
  the response (5xx: error). Falcon knows the route template only after routing, so the request
  middleware renames the span `{method} {template}` and sets `http.route` (`server_span_route`).
  opentelemetry-instrumentation-falcon is not used: it patches `falcon.App` (WSGI) only.
* The RPC client span: written here (`rpc_span`), as no instrumentation knows either RPC client;
  the runners make one around every call, publish until reply, and the clients put the context
  in the request's AMQP headers (`trace_headers`, in both).

Off, `ENABLED` is False, the apps are not wrapped and nothing of OpenTelemetry is imported.
"""

from telemetry import ENABLED, provider, tracer

SERVICE_NAME = "gateway"  # service.name unless OTEL_SERVICE_NAME (or OTEL_RESOURCE_ATTRIBUTES) says otherwise

if ENABLED:
    from opentelemetry import trace

    from telemetry.rpc import client_span, trace_headers
else:
    trace = client_span = None

    def trace_headers(headers):
        return headers


def _tracer():
    return tracer(SERVICE_NAME, __name__)


def asgi(app):
    """The ASGI app with its HTTP server spans (tracing on), else `app` itself."""
    if not ENABLED:
        return app
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    # exclude_spans: no span per `receive` and `send` message, only the request's.
    return OpenTelemetryMiddleware(app, tracer_provider=provider(SERVICE_NAME), exclude_spans=["receive", "send"])


def wsgi(app):
    """The WSGI app with its HTTP server spans (tracing on), else `app` itself."""
    if not ENABLED:
        return app
    from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware

    return OpenTelemetryMiddleware(app, tracer_provider=provider(SERVICE_NAME))


def server_span_route(method, template):
    """Name the current HTTP server span by its route template (a bounded name, never the path)."""
    span = trace.get_current_span()
    if span.is_recording() and template:
        span.update_name(f"{method} {template}")
        span.set_attribute("http.route", template)


def rpc_span(rpc_call):
    """The CLIENT span of one call from the gateway (a context manager)."""
    return client_span(_tracer(), rpc_call.service, rpc_call.method)


def describe():
    """For the start-up log: where spans go and how they are sampled."""
    import os

    from gateway.settings import masked

    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    sampler = os.environ.get("OTEL_TRACES_SAMPLER", "parentbased_always_on")
    argument = os.environ.get("OTEL_TRACES_SAMPLER_ARG")
    return f"tracing on: OTLP/HTTP to {masked(endpoint.strip())}, sampler {sampler}" + (
        f" {argument}" if argument else ""
    )
