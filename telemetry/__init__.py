"""Distributed tracing (OpenTelemetry), shared by the gateway and the workers.

On only when an OTLP endpoint is configured with the standard variables
(`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`), and not disabled with
`OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`. Everything else is the SDK's own
configuration, read by the SDK itself: `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
`OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`, `OTEL_BSP_*` (the batch processor),
`OTEL_EXPORTER_OTLP_*` (the exporter: OTLP over HTTP/protobuf), `OTEL_PROPAGATORS`.

Off, nothing of OpenTelemetry is imported: `ENABLED` is a module constant, and every hook in the
request path is behind an `if ENABLED` (or is replaced by a no-op when the app is built).

The context crosses AMQP in the W3C names (`traceparent`, `tracestate`) as headers of the RPC
request, beside nameko's `nameko.*` context headers; nameko's header decoder keeps headers
without its prefix as they are, so a worker sees them in `worker_ctx.data` whichever way they
came (as `traceparent` from the gateway's clients, or as `nameko.traceparent` from a caller that
puts them in its context data).
"""

import os
import threading

TRACEPARENT, TRACESTATE = "traceparent", "tracestate"
SENT_AT = "x-sent-at-ms"  # header: when the request was published, in ms (AMQP's timestamp has seconds)
TRACE_HEADERS = (TRACEPARENT, TRACESTATE, "baggage")


def _enabled(environ):
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() in ("none", ""):
        return False
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
        or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    )


ENABLED = _enabled(os.environ)

_providers = {}
_tracers = {}
_lock = threading.Lock()
_propagate = _trace = None  # OpenTelemetry's API modules, once imported (tracing on, or a test)


def _api():
    global _propagate, _trace
    if _propagate is None:
        from opentelemetry import propagate, trace

        _propagate, _trace = propagate, trace
    return _propagate, _trace


def provider(default_service_name):
    """The TracerProvider for one service of this process: OTLP/HTTP through the SDK's
    BatchSpanProcessor. `service.name` is OTEL_SERVICE_NAME (or that of OTEL_RESOURCE_ATTRIBUTES)
    when set, else `default_service_name`, so that one `nameko run` of several services reports
    each under its own name. The first one made becomes the global provider."""
    with _lock:
        found = _providers.get(default_service_name)
        if found is not None:
            return found
        # The instrumentations' attribute names: the stable HTTP and database semantic conventions
        # (http.request.method, http.response.status_code, db.system.name, ...) rather than their
        # pre-stable defaults, unless the standard variable says otherwise ("http/dup": both).
        os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http,database")
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        resource = Resource.create()
        if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
            resource = resource.merge(Resource({SERVICE_NAME: default_service_name}))
        made = TracerProvider(resource=resource)  # the sampler: OTEL_TRACES_SAMPLER (and _ARG)
        made.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        if not _providers:
            trace.set_tracer_provider(made)
        _providers[default_service_name] = made
        return made


def tracer(service_name, scope):
    """A tracer of `service_name`'s provider, made once."""
    found = _tracers.get((service_name, scope))
    if found is None:
        found = _tracers[service_name, scope] = provider(service_name).get_tracer(scope)
    return found


def inject(headers):
    """Add the current context's `traceparent` (and `tracestate`) to an AMQP header dict."""
    (_propagate or _api()[0]).inject(headers)


def extract(headers):
    """The context carried by `headers` (a dict with W3C names), for a span's parent."""
    return (_propagate or _api()[0]).extract(headers)


def current_ids():
    """(trace_id, span_id) of the current span, in hex, or ("-", "-")."""
    context = (_trace or _api()[1]).get_current_span().get_span_context()
    if not context.is_valid:
        return "-", "-"
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


def with_trace_ids(fmt):
    """A log format naming the request id, given the trace and span ids beside it (on only)."""
    if not ENABLED:
        return fmt
    fmt = fmt.replace("[%(request_id)s]", "[%(request_id)s %(trace_id)s %(span_id)s]")
    return fmt.replace(" %(request_id)s ", " %(request_id)s %(trace_id)s %(span_id)s ")


def force_flush(timeout_millis=5000):
    for made in list(_providers.values()):
        made.force_flush(timeout_millis)


if ENABLED:
    _api()
