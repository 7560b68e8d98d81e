"""Tracing in the workers (see telemetry/ for when it is on and how it is configured).

* RPC server spans, by hand: there is no instrumentation for nameko 2.x. The rpc entrypoint
  (entrypoint.py) leaves the request's `traceparent`/`tracestate` and the time it was published in
  the worker's context data (nameko's own header decoding puts them there); `IncomingCallProvider`'s
  worker_setup takes them out again, before the service runs, so they are not passed on as
  context data, and starts the SERVER span `{service}/{method}` with them as its parent (a
  request without them, say from `nameko shell`, starts a trace). The time the request waited in
  its queue is the attribute `nameko.queue_wait_ms`.
* Outgoing calls (trips_service to airports_service) go through `RpcProxy`: nameko's RpcProxy
  making a CLIENT span per call, its request carrying the context.
* Redis: opentelemetry-instrumentation-redis, applied to the client a service makes
  (`instrument_redis`), with Lua scripts named by what they do (`EVALSHA hold_airports`) instead
  of their sha; command arguments are never recorded (the instrumentation sanitises them).
* Timer-driven work (trips_service's releases) records no span for a sweep that finds nothing;
  each release it makes is a root span linked to the trace that queued it (`release_span`).

Off, every function here returns at once and `RpcProxy` is nameko's own.
"""

import hashlib
import time
import weakref
from datetime import UTC

import nameko.rpc

from telemetry import ENABLED, SENT_AT, TRACE_HEADERS, extract, inject, tracer

SCRIPT_NAMES = {}  # sha1 of a Lua script -> its name, for the Redis spans


def script(client, name, lua):
    """`client.register_script(lua)`, remembering the script's name for its spans."""
    SCRIPT_NAMES[hashlib.sha1(lua.encode()).hexdigest()] = name
    return client.register_script(lua)


if ENABLED:
    from opentelemetry import context, trace
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.utils import suppress_instrumentation
    from opentelemetry.trace import Link, SpanKind

    from telemetry import provider
    from telemetry.rpc import TracedRpcProxy as RpcProxy
    from telemetry.rpc import record_outcome, rpc_attributes
else:
    RpcProxy = nameko.rpc.RpcProxy

# worker context -> (its span, the context token) or (None, a timer sweep's suppression); kept
# beside nameko's WorkerContext rather than on it
_workers = weakref.WeakKeyDictionary()


def received(message, data):
    """The rpc entrypoint's hook on each request (tracing on): the AMQP `timestamp` (seconds) as
    the time it was sent, when the caller gave no finer one."""
    if SENT_AT not in data:
        timestamp = message.properties.get("timestamp")  # py-amqp: an int; kombu may make it a datetime
        if isinstance(timestamp, int):
            data[SENT_AT] = timestamp * 1000
        elif timestamp is not None and hasattr(timestamp, "timestamp"):
            data[SENT_AT] = int(timestamp.replace(tzinfo=timestamp.tzinfo or UTC).timestamp() * 1000)


def worker_setup(worker_ctx):
    """Start the worker's span (an RPC) or suppress spans (a timer sweep, until it finds work)."""
    data = worker_ctx.data
    carrier = {name: data.pop(name) for name in TRACE_HEADERS if name in data}
    sent_at = data.pop(SENT_AT, None)
    entrypoint = worker_ctx.entrypoint
    if not isinstance(entrypoint, nameko.rpc.Rpc):
        suppressing = suppress_instrumentation()
        suppressing.__enter__()
        _workers[worker_ctx] = (None, suppressing)
        return
    service, method = worker_ctx.service_name, entrypoint.method_name
    attributes = rpc_attributes(service, method)
    attributes["nameko.call_id"] = worker_ctx.call_id
    request_id = data.get("request_id")
    if request_id:
        attributes["travel.request_id"] = str(request_id)
    if sent_at is not None:
        try:
            attributes["nameko.queue_wait_ms"] = max(0.0, time.time() * 1000 - float(sent_at))
        except (TypeError, ValueError):
            pass
    span = tracer(service, __name__).start_span(
        f"{service}/{method}",
        context=extract(carrier) if carrier else context.Context(),
        kind=SpanKind.SERVER,
        attributes=attributes,
    )
    token = context.attach(trace.set_span_in_context(span))
    _workers[worker_ctx] = (span, token)


def worker_result(worker_ctx, exc_info):
    trace_state = _workers.get(worker_ctx)
    if trace_state is None or trace_state[0] is None or exc_info is None:
        return
    record_outcome(trace_state[0], exc_info[1])


def worker_teardown(worker_ctx):
    trace_state = _workers.pop(worker_ctx, None)
    if trace_state is None:
        return
    span, token = trace_state
    if span is None:
        token.__exit__(None, None, None)  # the suppression of a timer's sweep
        return
    span.end()
    context.detach(token)


def traceparent():
    """The current span's W3C traceparent ("" when off or there is none), to store beside work
    queued for later, so that the span doing it can link to the trace that asked for it."""
    if not ENABLED:
        return ""
    carrier = {}
    inject(carrier)
    return carrier.get("traceparent", "")


class _NoSpan:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def release_span(service, trip_id, cause):
    """A root span for one queued release that a timer makes, linked to the trace that queued it
    (`cause`: its traceparent, or "")."""
    if not ENABLED:
        return _NoSpan()
    links = []
    if cause:
        linked = trace.get_current_span(extract({"traceparent": cause})).get_span_context()
        if linked.is_valid:
            links.append(Link(linked, {"travel.link": "queued_by"}))
    return tracer(service, __name__).start_as_current_span(
        "release_holds",
        context=context.Context(),  # a root, and out of the sweep's suppression
        kind=SpanKind.INTERNAL,
        links=links,
        attributes={"travel.trip_id": trip_id},
    )


def instrument_redis(client, service):
    """Trace the commands of a service's Redis client (tracing on), scripts by name."""
    if not ENABLED:
        return client
    RedisInstrumentor.instrument_client(client, tracer_provider=provider(service), request_hook=_name_script)
    return client


def _name_script(span, instance, args, kwargs):
    if not args or not span.is_recording():
        return
    command = str(args[0]).upper()
    if len(args) < 2:
        return
    if command in ("EVALSHA", "EVALSHA_RO"):
        name = SCRIPT_NAMES.get(str(args[1]))
    elif command == "SCRIPT LOAD":  # after NOSCRIPT (a Redis restarted or flushed): redis-py loads it
        source = args[1] if isinstance(args[1], bytes) else str(args[1]).encode()
        name = SCRIPT_NAMES.get(hashlib.sha1(source).hexdigest())
    else:
        return
    if name:
        span.update_name(f"{command} {name}")
        span.set_attribute("db.operation.name", command)
        span.set_attribute("travel.redis.script", name)
