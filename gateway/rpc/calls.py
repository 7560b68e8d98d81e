"""What a handler asks for, and the errors an RPC client raises on its own account.

Errors the *services* raise arrive as their own types (schemas.errors, or nameko's
RemoteError for anything unexpected); these are the client's: no answer, no broker.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RpcCall:
    """One RPC: `service.method(**kwargs)`, with a timeout overriding the client's default."""

    service: str
    method: str
    kwargs: dict = field(default_factory=dict)
    timeout: float | None = None


@dataclass(frozen=True)
class Caller:
    """Who is calling, passed to the workers as nameko context headers."""

    request_id: str
    operation: str


class RpcError(Exception):
    """Raised by an RPC client itself, not by a service."""


class RpcTimeout(RpcError):
    """No reply within the timeout (HTTP 504)."""


class Unavailable(RpcError):
    """The call could not be made; trying again later may work (HTTP 503)."""


class NotConnected(Unavailable):
    """No connection to the broker, or it was lost during the call."""


class UnknownService(Unavailable):
    """No queue for the service: it has never run on this broker (the publish came back)."""


class Overloaded(Unavailable):
    """Too many calls in flight already: refused at once rather than queued (HTTP 503 + Retry-After)."""


class QueueFull(Overloaded):
    """The broker refused the request (a nack): the service's queue is at its length limit (the
    `reject-publish` policy of compose/rabbitmq/definitions.json)."""
