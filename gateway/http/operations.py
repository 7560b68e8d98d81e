"""An operation is one method on one path: its contract (schemas, replies, errors) and its handler.

A handler is a function named after its operationId (`get_airport` is `getAirport`), written as a
sans-IO generator: it `yield`s an RpcCall (or a list of them, run concurrently), gets back the
result (or has the error raised at the `yield`), and `return`s an ApiResponse. So one handler
serves the ASGI and the WSGI app, and its contract feeds the OpenAPI document. The route table
(gateway/routes.py) gives each its path and method.
"""

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import orjson

from gateway.http.problems import problem_for
from schemas.errors import not_found
from schemas.etags import etag_of
from schemas.fields import is_id


@dataclass(frozen=True)
class Reply:
    """A documented success response."""

    description: str
    schema: Any = None  # a marshmallow schema class, or None for no body
    media_type: str = "application/json"
    headers: tuple = ()  # names of response headers, documented in gateway.openapi
    links: dict = field(default_factory=dict)  # OpenAPI links: name -> (operationId, {parameter: expression})


@dataclass(frozen=True)
class Deprecation:
    """A deprecated operation: since when (RFC 9745's Deprecation header) and the operation that
    replaces it (a Link, rel="successor-version", to its path: the route table fills it in)."""

    since: datetime
    successor: str  # its operationId
    successor_path: str = ""

    def headers(self, params):
        """The headers every response of the operation carries, errors included."""
        path = self.successor_path.format(**{name: quote(value, safe="") for name, value in params.items()})
        return {"Deprecation": f"@{int(self.since.timestamp())}", "Link": f'<{path}>; rel="successor-version"'}


@dataclass(frozen=True)
class Operation:
    operation_id: str
    handler: Callable
    summary: str
    tag: str
    replies: dict
    errors: tuple = ()  # statuses answered with a problem document, beyond the common ones
    description: str = ""
    body: Any = None  # marshmallow schema class of the JSON body
    query: Any = None  # marshmallow schema class of the query string
    path_params: dict = field(default_factory=dict)  # name -> description
    any_content_type: bool = False  # parse the body as JSON whatever its Content-Type says
    merge_patch: bool = False  # the body is a JSON Merge Patch (RFC 7396) of the record
    idempotency_key: bool = False  # takes an Idempotency-Key header
    conditional: bool = False  # answers with an ETag, and 304 to a matching If-None-Match
    if_match: bool = False  # takes If-Match: the change is made only to the record it names (else 412)
    deprecated: Deprecation | None = None
    calls_services: bool = True  # may fail with 502/503/504 when a service does
    rate_limited: bool = True  # counted against RATE_LIMIT (the health checks and /metrics are not)
    documented: bool = True  # part of the API description (the docs routes are not)
    method: str = ""  # set by the route table (`at`)
    path: str = ""

    def __get__(self, instance, owner=None):
        """As a method's decorator: the operation of the handler bound to `instance`, as for a method."""
        return self if instance is None else dataclasses.replace(self, handler=self.handler.__get__(instance))

    def at(self, method, path):
        """This operation served on `method` `path` (the route table's binding)."""
        return dataclasses.replace(self, method=method, path=path)

    def succeeded_at(self, paths):
        """A deprecated operation told its successor's path (`paths`: operationId -> path)."""
        if self.deprecated is None:
            return self
        return dataclasses.replace(
            self, deprecated=dataclasses.replace(self.deprecated, successor_path=paths[self.deprecated.successor])
        )


def operation(**contract):
    """Decorator: the handler below, with its contract, as an Operation whose operationId is the
    handler's name in camelCase (`create_airport` is `createAirport`)."""

    def make(handler):
        return Operation(operation_id(handler.__name__), handler, **contract)

    return make


def operation_id(name):
    first, *rest = name.split("_")
    return first + "".join(word.capitalize() for word in rest)


@dataclass
class ApiRequest:
    """What a handler gets: validated input, and the request facts it may need."""

    path: str  # as requested, e.g. /airports
    params: dict
    query: dict
    body: Any
    request_id: str
    idempotency_key: str | None = None
    if_none_match: str | None = None
    if_match: list | None = None  # If-Match's entity tags (or ["*"]), for the service to compare
    broker_connected: Callable[[], bool] = lambda: True  # asked by the readiness check and /metrics


@dataclass
class ApiResponse:
    status: int
    data: bytes = b""
    media_type: str | None = None
    headers: dict = field(default_factory=dict)


def json_response(status, value, **headers):
    return ApiResponse(status, orjson.dumps(value), "application/json", headers)


def created(record, location):
    """201 with the new record, where it lives, and its ETag (ready for an If-Match)."""
    return json_response(201, record, Location=location, ETag=etag_of(record))


def no_content():
    return ApiResponse(204)


def text_response(status, text):
    return ApiResponse(status, text.encode(), "text/plain; charset=utf-8")


def with_etag(request, value):
    """200 with a strong ETag over the JSON body, or 304 when If-None-Match already has it."""
    data, etag = orjson.dumps(value), etag_of(value)
    if request.if_none_match and etag_matches(request.if_none_match, etag):
        return ApiResponse(304, headers={"ETag": etag})
    return ApiResponse(200, data, "application/json", {"ETag": etag})


def etag_matches(if_none_match, etag):
    """RFC 9110 13.1.2: "*" or any listed tag equal under weak comparison."""
    if if_none_match.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in if_none_match.split(","))


def path_id(request, name, record):
    """The id in the path parameter `name`; 404 at once when it cannot be an id of a `record`
    (then it never reaches a service)."""
    value = request.params[name]
    if not is_id(value):
        raise problem_for(not_found(record, value))
    return value
