"""RFC 9457 problem details: the body of every error response, and the one table that maps
errors (from the services, the RPC clients and the request itself) to HTTP.

Problem types are tag URIs (RFC 4151): stable names a client can switch on. Errors whose
status says it all use "about:blank", as RFC 9457 suggests.
"""

import http
import logging

import falcon
import orjson
from nameko.exceptions import BadRequest as NamekoBadRequest
from nameko.exceptions import RemoteError

from gateway.rpc.calls import Overloaded, RpcTimeout, Unavailable
from schemas.errors import (
    INVALID_INPUT,
    Conflict,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    NotFound,
    PreconditionFailed,
    ServiceUnavailable,
    ValidationError,
)

log = logging.getLogger("gateway.errors")
RETRY_LATER = "{}; retry after the seconds in Retry-After."

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "tag:nameko-travel,2026:"
VALIDATION = TYPE_PREFIX + "validation-error"
CONFLICT = TYPE_PREFIX + "conflict"
KEY_REUSED = TYPE_PREFIX + "idempotency-key-reused"
KEY_IN_USE = TYPE_PREFIX + "idempotency-key-in-use"
OVERLOADED = TYPE_PREFIX + "overloaded"
RATE_LIMITED = TYPE_PREFIX + "rate-limited"
# RFC 9110's reason phrases where Python before 3.13 still has RFC 2616's in http.HTTPStatus:
# titles (and the API description's response names, made from them) must not change with the
# Python the gateway runs on.
RFC_9110_PHRASES = {
    413: "Content Too Large",
    414: "URI Too Long",
    416: "Range Not Satisfiable",
    422: "Unprocessable Content",
}
# Every problem type this gateway sends besides about:blank, with what it means: the API
# description lists them from here (and a test checks that nothing else is ever sent).
PROBLEM_TYPES = {
    VALIDATION: "The input is not valid; `errors` names each field at fault (422).",
    CONFLICT: "The request clashes with the current state: a duplicate IATA code, or an airport in use (409).",
    KEY_REUSED: "The Idempotency-Key was first used with a different body (422).",
    KEY_IN_USE: "A request with the same Idempotency-Key is still being processed; retry after Retry-After (409).",
    OVERLOADED: "The gateway has too many calls in flight; retry after Retry-After (503).",
    RATE_LIMITED: "The client made more requests than RATE_LIMIT allows; retry after Retry-After (429).",
}


class RateLimited(Exception):
    """A client over RATE_LIMIT (gateway/http/ratelimit.py), with the headers saying when to retry."""

    def __init__(self, detail, headers=None):
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {
            "Retry-After": "1",
            "RateLimit-Policy": '"default";q=100;w=60',
            "RateLimit": '"default";r=0;t=1',
        }


class HTTPProblem(falcon.HTTPError):
    """An HTTPError that knows its problem type and, for validation, the messages by field."""

    def __init__(self, status, detail=None, *, type_uri="about:blank", errors=None, headers=None, extensions=None):
        super().__init__(status, title=reason_phrase(status), description=detail, headers=headers)
        self.type_uri = type_uri
        self.errors = errors
        self.extensions = extensions  # more members of the problem document (RFC 9457 3.2)


def reason_phrase(status):
    """The status's reason phrase as RFC 9110 names it, on every Python."""
    return RFC_9110_PHRASES.get(status) or http.HTTPStatus(status).phrase


def invalid(errors, detail=INVALID_INPUT):
    return HTTPProblem(422, detail, type_uri=VALIDATION, errors=errors)


def service_failed():
    return HTTPProblem(
        502, "A service failed to handle the request; retry later, and report the request_id if it goes on."
    )


def unexpected():
    return HTTPProblem(500, "An unexpected error occurred; retry later, and report the request_id if it goes on.")


# What the services and the RPC clients raise, and the problem each becomes. An error is matched
# by its class's MRO (as Falcon's add_error_handler matches), so a subclass finds its own row
# before its base's whatever the order here (IdempotencyKeyInUse is a Conflict; Overloaded is
# Unavailable). Falcon's own handlers are not used because the error is met inside the runners,
# which answer ASGI and WSGI alike from one place; the lookup is the same.
ERROR_TABLE = {
    ValidationError: lambda e: invalid(e.errors, e.detail),
    IdempotencyKeyReused: lambda e: HTTPProblem(422, e.detail, type_uri=KEY_REUSED),
    IdempotencyKeyInUse: lambda e: HTTPProblem(409, e.detail, type_uri=KEY_IN_USE, headers={"Retry-After": "1"}),
    NotFound: lambda e: HTTPProblem(404, e.detail),
    PreconditionFailed: lambda e: HTTPProblem(412, e.detail),
    Conflict: lambda e: HTTPProblem(409, e.detail, type_uri=CONFLICT, extensions=_naming(e.conflicts_with)),
    ServiceUnavailable: lambda e: HTTPProblem(503, e.detail, headers={"Retry-After": "5"}),
    Overloaded: lambda e: HTTPProblem(
        503, RETRY_LATER.format("The gateway is at capacity"), type_uri=OVERLOADED, headers={"Retry-After": "1"}
    ),
    Unavailable: lambda e: HTTPProblem(
        503, RETRY_LATER.format("A service needed for this request is unavailable"), headers={"Retry-After": "5"}
    ),
    RpcTimeout: lambda e: HTTPProblem(
        504,
        "A service did not answer in time, and the request may have taken effect: retry it (a create or a "
        "change with the same Idempotency-Key).",
    ),
    RateLimited: lambda e: HTTPProblem(429, e.detail, type_uri=RATE_LIMITED, headers=e.headers),
}


def problem_for(exc):
    """The HTTPProblem to answer `exc` with: the row of its nearest class in ERROR_TABLE. Anything
    not in the table is a fault on our side: it is logged with its details and answered without them."""
    for error_type in type(exc).__mro__:
        build = ERROR_TABLE.get(error_type)
        if build is not None:
            return build(exc)
    if isinstance(exc, RemoteError):
        log.error("a service failed: %s", exc)
        return service_failed()
    if isinstance(exc, NamekoBadRequest):  # the gateway called a service wrongly: our bug
        log.error("a service refused the gateway's call: %r", exc)
    else:
        log.error("unexpected error", exc_info=exc)
    return unexpected()


def serialize_problem(req, resp, error):
    """Falcon's error serializer: every HTTPError, ours or Falcon's own (404, 405...), as problem+json."""
    resp.data = orjson.dumps(problem_document(error, req.path, getattr(req.context, "request_id", None)))
    resp.content_type = PROBLEM_JSON


def problem_document(error, path, request_id=None):
    """The body answering `error` (an HTTPError) to a request for `path`; the API description's
    examples are made by this function too."""
    status = error.status_code
    problem = {
        "type": getattr(error, "type_uri", "about:blank"),
        "title": reason_phrase(status),
        "status": status,
        "detail": error.description or DEFAULT_DETAILS.get(status, http.HTTPStatus(status).description),
        "instance": path,
    }
    if request_id:
        problem["request_id"] = request_id
    errors = getattr(error, "errors", None)
    if errors:
        problem["errors"] = errors
    problem.update(getattr(error, "extensions", None) or {})
    return problem


def _naming(conflicts_with):
    return {"conflicts_with": conflicts_with} if conflicts_with else None


DEFAULT_DETAILS = {
    404: "Nothing is at this path; check it against the API description.",
    405: "This path does not serve this method; use one that the Allow header lists.",
}
