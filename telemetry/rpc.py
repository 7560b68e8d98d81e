"""RPC spans (client and server) and nameko proxies that carry the trace context.

Imported only when tracing is on (it imports OpenTelemetry). There is no maintained
instrumentation for nameko 2.x (opentelemetry-instrumentation-nameko needs nameko 3), nor for the
gateway's own AMQP client, so these follow the RPC semantic conventions by hand: span name
`{service}/{method}`, `rpc.system` (here "nameko"), `rpc.service`, `rpc.method`, and on failure
`error.type` and an error status. The services' typed errors (schemas/errors.py: 404, 409, 422)
are answers, not faults: they leave the status unset and are named in `travel.error`.
"""

import time
from contextlib import contextmanager

from nameko.rpc import MethodProxy, RpcProxy, ServiceProxy
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from schemas.errors import ServiceUnavailable, TravelError
from telemetry import SENT_AT, TRACE_HEADERS, inject

RPC_SYSTEM = "nameko"

# What a client-side failure was, by the class that says it (gateway/rpc/calls.py, nameko's own,
# eventlet's Timeout in trips_service), without importing them all here.
_OUTCOMES = {
    "RpcTimeout": "timeout",
    "Timeout": "timeout",
    "UnknownService": "unknown_service",
    "NotConnected": "connection_lost",
    "PoolExhausted": "overloaded",
    "Overloaded": "overloaded",
}


def rpc_attributes(service, method):
    return {"rpc.system": RPC_SYSTEM, "rpc.service": service, "rpc.method": method}


def is_answer(exc):
    """A typed error the service answers with (not found, conflict, invalid): not a fault."""
    return isinstance(exc, TravelError) and not isinstance(exc, ServiceUnavailable)


def record_outcome(span, exc):
    """Mark `span` with how the call ended: nothing for success or a typed answer (named in
    `travel.error`), an error status with `error.type` for anything else."""
    if exc is None or not span.is_recording():
        return
    name = type(exc).__name__
    if is_answer(exc):
        span.set_attribute("travel.error", name)
        return
    span.set_attribute("error.type", _OUTCOMES.get(name, f"{type(exc).__module__}.{name}"))
    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, f"{name}: {exc}"[:200]))


@contextmanager
def client_span(tracer, service, method):
    """A CLIENT span from publish until reply, current while the call is made (so the request's
    headers carry it)."""
    with tracer.start_as_current_span(
        f"{service}/{method}",
        kind=SpanKind.CLIENT,
        attributes=rpc_attributes(service, method),
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except BaseException as exc:
            record_outcome(span, exc)
            raise


def trace_headers(headers):
    """`headers` (AMQP, of a request about to be published) with the current context in the W3C
    names and the time of publishing; a context some caller left in its nameko context data
    (`nameko.traceparent`) is dropped, so a stale parent never travels beside the current one."""
    for name in TRACE_HEADERS:
        headers.pop(f"nameko.{name}", None)
    inject(headers)
    headers[SENT_AT] = str(int(time.time() * 1000))
    return headers


class TracedMethodProxy(MethodProxy):
    """nameko's MethodProxy whose requests carry the trace context; with a tracer, each call is
    also a CLIENT span (the WSGI gateway makes its span around the whole call itself)."""

    tracer = None

    def get_message_headers(self, worker_ctx):
        return trace_headers(super().get_message_headers(worker_ctx))

    def __call__(self, *args, **kwargs):
        if self.tracer is None:
            return super().__call__(*args, **kwargs)
        with client_span(self.tracer, self.service_name, self.method_name):
            return super().__call__(*args, **kwargs)


class TracedServiceProxy(ServiceProxy):
    """nameko's ServiceProxy handing out TracedMethodProxy (as ServiceProxy.__getattr__ does)."""

    def __init__(self, worker_ctx, service_name, reply_listener, tracer=None, **options):
        super().__init__(worker_ctx, service_name, reply_listener, **options)
        self.tracer = tracer

    def __getattr__(self, name):
        proxy = TracedMethodProxy(self.worker_ctx, self.service_name, name, self.reply_listener, **self.options)
        proxy.tracer = self.tracer
        return proxy


class TracedRpcProxy(RpcProxy):
    """nameko's RpcProxy dependency, each call a CLIENT span of the calling service."""

    def get_dependency(self, worker_ctx):
        from telemetry import tracer

        return TracedServiceProxy(
            worker_ctx,
            self.target_service,
            self.rpc_reply_listener,
            tracer=tracer(worker_ctx.service_name, __name__),
            **self.options,
        )


def current_span():
    return trace.get_current_span()
