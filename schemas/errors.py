"""The errors that cross the RPC wire.

Workers raise these; callers get the same types back. nameko rebuilds an
exception from its reply as `cls(*exc_args)` when the class is registered with
`deserialize_to_instance`, so each class keeps `args` equal to its constructor
parameters (and only strings, lists and dicts in them: nameko stringifies any
other value on the way out).

Everything here is an error the caller can act on. A bug in a worker is not one
of these: it arrives as nameko's generic `RemoteError`, which the gateway answers
with 502, never with a 4xx that would blame the client.
"""

from nameko.exceptions import deserialize_to_instance

# The details of the errors that read the same wherever they are raised.
INVALID_INPUT = "The input is not valid; change what `errors` names, field by field."
KEY_REUSED = "This Idempotency-Key was used with a different request; send this one with a new key."
KEY_IN_USE = "A request with this Idempotency-Key is still being processed; retry after the seconds in Retry-After."


class TravelError(Exception):
    """Base of the typed, expected errors (logged as warnings, not tracebacks)."""

    def __init__(self, detail, *more):
        super().__init__(detail, *more)
        self.detail = detail

    def __str__(self):
        return self.detail


@deserialize_to_instance
class NotFound(TravelError):
    """No record with that id. `ids` names the missing ones when several were asked for."""

    def __init__(self, detail, ids=()):
        super().__init__(detail, list(ids))
        self.ids = list(ids)


def not_found(kind, record_id):
    """The NotFound of a `kind` ("airport", "trip") record: one wording wherever it is missing
    (the gateway says the same of an id that cannot be one)."""
    return NotFound(
        f"There is no {kind} with this id; check the id, or find the {kind} in the list of {kind}s.", [record_id]
    )


@deserialize_to_instance
class Conflict(TravelError):
    """The request clashes with the current state (a duplicate IATA code, an airport in use);
    `conflicts_with` names the records it clashes with, by kind: {"airports": [id]}, {"trips": [...]}."""

    def __init__(self, detail, conflicts_with=None):
        super().__init__(detail, conflicts_with or {})
        self.conflicts_with = conflicts_with or {}


NAMED_AT_MOST = 10  # records a conflict names


def iata_taken(code, airport_id):
    """The Conflict of an IATA code that belongs to another airport."""
    return Conflict(
        f"IATA code {code} belongs to airport {airport_id}; choose another code, or change that airport's first.",
        {"airports": [airport_id]},
    )


def airport_in_use(count, trip_ids):
    """The Conflict of deleting an airport `count` trips use (`trip_ids`: some of them)."""
    named = sorted(trip_ids)[:NAMED_AT_MOST]
    some = "" if count <= len(named) else f" ({len(named)} named here)"
    return Conflict(
        f"{count} trip(s) use this airport{some}; delete them or change their airports first.", {"trips": named}
    )


def changed_meanwhile(kind):
    """The Conflict of a change or delete that kept finding the record changed under it."""
    return Conflict(f"The {kind} kept changing while this request was applied; send it again.")


@deserialize_to_instance
class ValidationError(TravelError):
    """The input broke a rule; `errors` maps each field to its messages.

    Not marshmallow's ValidationError, which this project's code always names in full
    (`marshmallow.ValidationError`): this one crosses the wire, and keeps its name because nameko
    sends the class name as the error's type, which callers already running deserialize by."""

    def __init__(self, errors, detail=None):
        detail = detail or INVALID_INPUT
        Exception.__init__(self, errors, detail)  # args in constructor order, for nameko
        self.errors = errors
        self.detail = detail


@deserialize_to_instance
class PreconditionFailed(TravelError):
    """If-Match named none of the record's current ETags: the change was not made."""


def precondition_failed(kind):
    return PreconditionFailed(
        f"The {kind} has changed since the ETag given in If-Match; GET it again, and make your change to what "
        "it is now."
    )


@deserialize_to_instance
class IdempotencyKeyReused(TravelError):
    """The idempotency key was first used with a different input."""


@deserialize_to_instance
class IdempotencyKeyInUse(Conflict):
    """A call with the same idempotency key is still being processed."""


@deserialize_to_instance
class ServiceUnavailable(TravelError):
    """A dependency (Redis, another service) is unreachable; retrying later may succeed."""
