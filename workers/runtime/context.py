"""Who is calling: the request id that came with the call, for the service and for its logs."""

from dataclasses import dataclass

from eventlet import getcurrent
from nameko.extensions import DependencyProvider

from workers.common import tracing

# Keys of a worker's context data: nameko's request id, and the facts of the delivery, set from
# the message itself (record_delivery) so that a caller cannot choose them with a header.
REQUEST_ID = "request_id"
DELIVERY_ID, DELIVERY_REPLY_TO, DELIVERY_REDELIVERED = "delivery_id", "delivery_reply_to", "delivery_redelivered"

# Kept on the worker's greenlet itself (under `nameko run` each worker is an eventlet greenthread;
# elsewhere a thread's own main greenlet): one value per worker, like eventlet's green
# threading.local, which costs several times as much to set and read (bench/worker_parts.py).
_ATTRIBUTE = "travel_request_id"


@dataclass(frozen=True)
class IncomingCall:
    request_id: str | None
    delivery_id: str | None
    reply_to: str | None = None  # the request's reply queue (routing key)
    redelivered: bool = False  # the broker delivered this request before


class AnsweredElsewhere(Exception):
    """Raised by a run of a call that gave way to another run of the same call (a redelivery, a
    copy), which answers the caller: the entrypoint acknowledges the request and sends no reply."""


def record_delivery(data, message):
    """Put what the AMQP message says about this call into the worker's context `data`. The
    correlation id is the identity of one call: a redelivery carries the same one, which is how
    idempotency tells it from a second call with the same key."""
    data[DELIVERY_ID] = message.properties.get("correlation_id")
    data[DELIVERY_REPLY_TO] = message.properties.get("reply_to")
    data[DELIVERY_REDELIVERED] = bool(message.delivery_info.get("redelivered"))


class IncomingCallProvider(DependencyProvider):
    """Gives each worker its `IncomingCall` and labels the worker's log records with the request id; with
    tracing on, also makes the worker's span (workers/common/tracing.py)."""

    def get_dependency(self, worker_ctx):
        data = worker_ctx.data
        return IncomingCall(
            data.get(REQUEST_ID),
            data.get(DELIVERY_ID),
            data.get(DELIVERY_REPLY_TO),
            bool(data.get(DELIVERY_REDELIVERED)),
        )

    def worker_setup(self, worker_ctx):
        setattr(getcurrent(), _ATTRIBUTE, worker_ctx.data.get(REQUEST_ID))
        if tracing.ENABLED:
            tracing.worker_setup(worker_ctx)

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        if tracing.ENABLED:
            tracing.worker_result(worker_ctx, exc_info)

    def worker_teardown(self, worker_ctx):
        setattr(getcurrent(), _ATTRIBUTE, None)
        if tracing.ENABLED:
            tracing.worker_teardown(worker_ctx)


def current_request_id():
    """The request id of the worker running in this (green) thread, or None."""
    return getattr(getcurrent(), _ATTRIBUTE, None)
