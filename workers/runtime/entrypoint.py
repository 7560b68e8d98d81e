"""The `rpc` entrypoint the travel services use: nameko's own, plus what they all need.

* The AMQP correlation id of the request goes into the worker context as `delivery_id`.
  It is the identity of one *call*: a request that nameko redelivers after its worker
  died carries the same one, which is how idempotency tells a redelivery from a
  second, concurrent call with the same key.
* Infrastructure failures become `ServiceUnavailable`, so a caller sees "retry later"
  (HTTP 503) instead of a redis-py exception it cannot map.
* A JSON reply and the request's acknowledgement go out in one write on the connection the
  request came in on (workers/runtime/replies.py), without publisher confirms; when that
  connection is closed or fails, through nameko's own responder.
* The signature check uses a signature computed once, not `inspect.getcallargs` per call.
"""

import inspect
import logging

import eventlet
import kombu.serialization
import orjson
from amqp.exceptions import AMQPError, MessageNacked
from kombu.exceptions import OperationalError as KombuOperationalError
from nameko.constants import AMQP_SSL_CONFIG_KEY, AMQP_URI_CONFIG_KEY, LOGIN_METHOD_CONFIG_KEY
from nameko.exceptions import IncorrectSignature
from nameko.rpc import Responder, get_rpc_exchange
from nameko.rpc import Rpc as NamekoRpc
from redis import exceptions as redis_errors

from schemas.errors import ServiceUnavailable, TravelError
from workers.common import tracing
from workers.runtime.consumer import RpcConsumer
from workers.runtime.context import AnsweredElsewhere, record_delivery
from workers.runtime.publishing import renew_pooled_connections
from workers.runtime.replies import BROKEN, JSON, reply_and_ack, reply_body

log = logging.getLogger(__name__)

# kombu's JSON codec, for every message these workers decode or encode (requests, and the calls
# trips_service makes), replaced by orjson: the same JSON on the wire, a fraction of the CPU.
# kombu's own also turns datetimes and UUIDs into tagged objects; the services send neither.
kombu.serialization.register("json", orjson.dumps, orjson.loads, content_type=JSON, content_encoding="utf-8")

ANSWER_TIMEOUT = 2.0  # seconds an answer through nameko's responder may wait for its confirm

# What Redis says when it is up but cannot serve right now: redis-py raises its own classes for
# some replies (dropping their code from the message) and plain ResponseErrors for others.
_REDIS_TRANSIENT = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    redis_errors.ReadOnlyError,
    redis_errors.TryAgainError,
    redis_errors.ClusterDownError,
)
# A publish the broker refused (nack) or whose connection broke: kombu's and amqp's own errors.
_BROKER_FAILURES = (KombuOperationalError, AMQPError, MessageNacked)
_REDIS_TRANSIENT_REPLIES = ("MISCONF", "LOADING", "READONLY", "NOREPLICAS", "CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN")


class Rpc(NamekoRpc):
    rpc_consumer = RpcConsumer()  # a request reaches its worker without a greenthread of its own

    def __init__(self, expected_exceptions=TravelError, **kwargs):
        # Typed errors are answers, not faults: nameko logs them as warnings.
        super().__init__(expected_exceptions=expected_exceptions, **kwargs)

    def setup(self):
        super().setup()
        self._exchange = get_rpc_exchange(self.container.config)
        self._signature = inspect.signature(getattr(self.container.service_cls, self.method_name))
        parameters = list(self._signature.parameters.values())[1:]  # after self
        # A method of plain parameters (no *args, **kwargs or keyword-only ones, as all of ours):
        # their names, the required ones first, as Python orders them.
        plain = all(p.kind is p.POSITIONAL_OR_KEYWORD for p in parameters)
        self._names = tuple(p.name for p in parameters) if plain else None
        self._required = sum(p.default is p.empty for p in parameters)

    def check_signature(self, args, kwargs):
        if self._names is not None and fits(self._names, self._required, args, kwargs):
            return  # Signature.bind would accept it too, for several times the CPU
        try:
            self._signature.bind(None, *args, **kwargs)
        except TypeError as exc:
            raise IncorrectSignature(str(exc)) from None

    def unpack_message_headers(self, message):
        data = super().unpack_message_headers(message)
        record_delivery(data, message)
        if tracing.ENABLED:
            tracing.received(message, data)
        return data

    def handle_result(self, message, worker_ctx, result, exc_info):
        if exc_info is not None and isinstance(exc_info[1], AnsweredElsewhere):
            # another run of this very call took over its idempotency key and answers for it
            try:
                self.rpc_consumer.queue_consumer.ack_message(message)
            except BROKEN:  # the connection broke: the broker gives the request back, a copy
                pass
            return result, exc_info
        if exc_info is not None:
            exc_info = as_wire_error(exc_info)
        properties = message.properties
        if properties.get("content_type") != JSON:  # another serializer: nameko's own responder
            return super().handle_result(message, worker_ctx, result, exc_info)
        try:
            if reply_and_ack(message, self._exchange.name, reply_body(result, exc_info)):
                return result, exc_info
            reason = "its connection is closed"
        except BROKEN as exc:
            reason = f"its connection failed: {exc}"
        return self._answer_through_nameko(message, result, exc_info, reason)

    def _answer_through_nameko(self, message, result, exc_info, reason):
        """Reply on a connection of nameko's own (its Responder: kombu's pool, publisher confirms),
        without an ack: the request's connection is gone or broken, so the broker redelivers the
        request anyway, and this answer reaches the caller first (it ignores the second run's).
        A confirm that takes over ANSWER_TIMEOUT gives up: the worker is freed, the redelivery
        answers."""
        if not message.properties.get("reply_to"):
            return result, exc_info
        log.info("answering %s through nameko's responder: %s", self.method_name, reason)
        config = self.container.config
        responder = Responder(
            config[AMQP_URI_CONFIG_KEY],
            self._exchange,
            "json",
            message,
            ssl=config.get(AMQP_SSL_CONFIG_KEY),
            login_method=config.get(LOGIN_METHOD_CONFIG_KEY),
        )
        timeout = eventlet.Timeout(ANSWER_TIMEOUT)
        try:
            return responder.send_response(result, exc_info)
        except (*BROKEN, eventlet.Timeout) as exc:
            if isinstance(exc, eventlet.Timeout) and exc is not timeout:
                raise
            # a pooled channel may be stuck (workers/runtime/publishing.py): the next one is new
            renew_pooled_connections(self.container.config, f"an answer to {self.method_name} did not go out")
            log.warning("could not answer %s (%r); it will be redelivered", self.method_name, exc)
            return result, exc_info
        finally:
            timeout.cancel()


rpc = Rpc.decorator


def fits(names, required, args, kwargs):
    """Whether a call with `args` and `kwargs` binds to parameters `names`, the first `required`
    of them without a default (all positional-or-keyword): the check, not the error message."""
    if len(args) > len(names):
        return False
    rest = names[len(args) :]
    for name in kwargs:
        if name not in rest:  # unknown, or given positionally already
            return False
    return all(name in kwargs for name in rest[: max(required - len(args), 0)])


def as_wire_error(exc_info):
    """Replace a storage or broker outage with ServiceUnavailable; leave everything else as raised."""
    exc = exc_info[1]
    if is_storage_outage(exc):
        message = "The data store is unavailable; try again later."
    elif isinstance(exc, _BROKER_FAILURES):  # a call to another service could not go out
        message = "The message broker is unavailable; try again later."
    else:
        return exc_info
    replacement = ServiceUnavailable(message)
    replacement.__cause__ = exc
    return (ServiceUnavailable, replacement, exc_info[2])


def is_storage_outage(exc):
    if isinstance(exc, _REDIS_TRANSIENT):
        return True
    return isinstance(exc, redis_errors.ResponseError) and str(exc).startswith(_REDIS_TRANSIENT_REPLIES)
