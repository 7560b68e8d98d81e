"""The OpenAPI 3.1 document, built from the route table and the marshmallow schemas that serve
the requests (apispec's MarshmallowPlugin): nothing in it is written by hand a second time.

    python -m gateway.openapi                      # JSON on stdout
    python -m gateway.openapi --output docs/openapi.json
    python -m gateway.openapi --format yaml
    python -m gateway.openapi --with-tokens        # as served when API_TOKENS is set
"""

import argparse
import sys
from collections import defaultdict
from importlib.metadata import PackageNotFoundError, version
from types import SimpleNamespace

import falcon
import orjson
import yaml
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from gateway.http.auth import MUTATING, BearerAuth
from gateway.http.problems import (
    PROBLEM_JSON,
    PROBLEM_TYPES,
    RateLimited,
    problem_document,
    problem_for,
    reason_phrase,
    service_failed,
    unexpected,
)
from gateway.http.requests import (
    IDEMPOTENCY_KEY_PATTERN,
    IF_MATCH_PATTERN,
    idempotency_key,
    if_match,
    parse_body,
    too_large,
)
from gateway.rpc.calls import Overloaded, RpcTimeout, Unavailable
from gateway.settings import Settings
from schemas.airports import AirportCreate
from schemas.errors import (
    KEY_IN_USE,
    KEY_REUSED,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    ServiceUnavailable,
    airport_in_use,
    iata_taken,
    not_found,
    precondition_failed,
)
from schemas.errors import ValidationError as InvalidInput
from schemas.fields import ID_PATTERN
from schemas.problem import Problem

OPENAPI_VERSION = "3.1.0"
MERGE_PATCH = "application/merge-patch+json"
DESCRIPTION = """\
The travel system of "Introduction to Python Microservices With Nameko": airports and trips,
served by nameko services over RabbitMQ, with this gateway in front.

Every error is an RFC 9457 problem document (`application/problem+json`). Problem types a
client may want to tell apart are tag URIs; every other problem is `about:blank`, its status
saying it all:

{problem_types}

Creates accept an `Idempotency-Key`: a retry with the same key and body returns the first
response and creates nothing.

Every path that serves GET also serves HEAD: the same status and headers, without the body.
A method a path does not serve is answered 405, with `Allow` listing the ones it does.
"""
CONTACT = {"name": "nameko-travel"}  # the project publishes no address to write to
TAG_DESCRIPTIONS = {
    "airports": "Airports: a name and an optional IATA code.",
    "trips": "Trips from one airport to another.",
    "article": "The article's original routes, kept as it printed them; deprecated.",
    "health": "Liveness and readiness, for load balancers and orchestrators.",
}

BODY_ERRORS = (400, 413, 415, 422)
RPC_ERRORS = (502, 503, 504)
EVERY_OPERATION_ERRORS = (405, 500)
ERROR_DESCRIPTIONS = {
    400: "Malformed JSON, or a malformed header.",
    401: "No valid bearer token (see WWW-Authenticate).",
    404: "No such record.",
    405: "This path does not serve that method; `Allow` lists the ones it does.",
    409: "The request conflicts with the current state (see `detail`), or a request with the same "
    "Idempotency-Key is still being processed (then with Retry-After).",
    412: "The record has changed since the ETag given in If-Match: nothing was changed.",
    413: "The body is larger than the gateway accepts.",
    415: "The body is not JSON.",
    429: "Only where the gateway sets RATE_LIMIT: the client (its token, or its address) made more requests "
    "than the limit allows; retry after Retry-After. RateLimit-Policy and RateLimit (IETF "
    "draft-ietf-httpapi-ratelimit-headers) are then on every response.",
    422: "The input is not valid: `errors` names each field at fault. Also an Idempotency-Key "
    "reused with a different body.",
    500: "An unexpected error in the gateway.",
    502: "A service failed to handle the request.",
    503: "A service, the broker or the gateway's capacity is unavailable; retry after Retry-After.",
    504: "A service did not answer in time.",
}
# The headers problem responses may carry besides X-Request-ID; which statuses carry them, and
# whether always, is read off the problems themselves (problem_samples).
STRING = {"schema": {"type": "string"}}
PROBLEM_HEADERS = {
    "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}},
    "WWW-Authenticate": {"description": "The Bearer challenge.", "schema": {"type": "string"}},
    "Allow": {"description": "The methods this path serves.", "schema": {"type": "string"}},
    "RateLimit-Policy": {
        "description": 'The quota: `"default";q=<requests>;w=<seconds>`.',
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": 'Where the client stands: `"default";r=<left>;t=<seconds>`.',
        "schema": {"type": "string"},
    },
}
EXAMPLE_OPERATION = "createAirport"  # the problem examples' `instance` is its path
EXAMPLE_REQUEST_ID = "4a1f0c7e9b2d4e6f8a0b1c2d3e4f5a6b"


def package_version():
    try:
        return version("nameko-travel")
    except PackageNotFoundError:
        return "0.0.0"


def build_document(operations, auth=False):
    """The document for `operations`; with `auth`, the data-changing ones require a bearer token."""
    spec = APISpec(
        title="nameko-travel",
        version=package_version(),
        openapi_version=OPENAPI_VERSION,
        plugins=[MarshmallowPlugin()],
        info={
            "description": DESCRIPTION.format(problem_types=_problem_type_list()),
            "contact": CONTACT,
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        servers=[{"url": "/", "description": "This gateway"}],
    )
    documented = [op for op in operations if op.documented]
    for tag in dict.fromkeys(op.tag for op in documented):  # in order of first use
        spec.tag({"name": tag, "description": TAG_DESCRIPTIONS[tag]})
    example_path = next(op.path for op in operations if op.operation_id == EXAMPLE_OPERATION)
    _components(spec, auth, example_path)
    if auth:
        spec.components.security_scheme(
            "bearerAuth",
            {
                "type": "http",
                "scheme": "bearer",
                "description": "One of the tokens in the gateway's API_TOKENS; needed to create, change and delete.",
            },
        )
    for op in documented:
        spec.path(path=op.path, operations={op.method.lower(): _operation(op, auth and op.method in MUTATING)})
    doc = _unused_components_dropped(_query_parameters_are_never_null(_absent_is_not_a_default(spec.to_dict())))
    problem_type = doc["components"]["schemas"]["Problem"]["properties"]["type"]
    problem_type["examples"] = ["about:blank", *PROBLEM_TYPES]
    return doc


def _unused_components_dropped(doc):
    """Leave out the shared parameters and responses no operation refers to (If-Match, 412...
    while no documented operation takes them): linters report unused components."""
    used = orjson.dumps(doc["paths"])
    for section in ("parameters", "responses"):
        components = doc["components"].get(section, {})
        for name in [n for n in components if f'"#/components/{section}/{n}"'.encode() not in used]:
            del components[name]
    return doc


def _problem_type_list():
    return "\n".join(f"- `{uri}`: {meaning}" for uri, meaning in PROBLEM_TYPES.items())


def _absent_is_not_a_default(doc):
    """A field whose marshmallow `load_default` is None is optional: the server fills in None when
    it is absent. apispec writes that as `default: null`, which generators read as "always
    present" (openapi-typescript makes such a property required): leave it out."""
    for schema in doc["components"]["schemas"].values():
        for prop in schema.get("properties", {}).values():
            if "default" in prop and prop["default"] is None:
                del prop["default"]
    return doc


def _query_parameters_are_never_null(doc):
    """The same schema fields take None over RPC ("no cursor"); in a query string a parameter is
    absent instead. Drop the `null` type and `default: null` apispec copies from those fields."""
    for path in doc["paths"].values():
        for op in path.values():
            for parameter in op.get("parameters", []):
                schema = parameter.get("schema", {})
                if schema.get("default", 0) is None:
                    del schema["default"]
                if isinstance(schema.get("type"), list) and "null" in schema["type"]:
                    kinds = [kind for kind in schema["type"] if kind != "null"]
                    schema["type"] = kinds[0] if len(kinds) == 1 else kinds
    return doc


def _components(spec, auth, example_path):
    spec.components.schema("Problem", schema=Problem)
    # The reply headers: each is sent on every response it is listed for.
    spec.components.header(
        "X-Request-ID",
        {
            "description": "The request's id: the one sent in X-Request-ID if usable, else a new one.",
            "required": True,
            "schema": {"type": "string"},
        },
    )
    spec.components.header(
        "Location", {"description": "Path of the created record.", "required": True, "schema": {"type": "string"}}
    )
    spec.components.header(
        "ETag",
        {
            "description": "Entity tag of the record, for If-None-Match and If-Match.",
            "required": True,
            "schema": {"type": "string"},
        },
    )
    spec.components.header(
        "Deprecation",
        {
            "description": "This operation is deprecated, since the date given (RFC 9745: `@` and seconds since "
            "1970); errors carry it too.",
            "required": True,
            "schema": {"type": "string", "pattern": "^@-?[0-9]{1,15}$"},
        },
    )
    spec.components.header(
        "Link",
        {
            "description": 'The operation that replaces this one: `<path>; rel="successor-version"`.',
            "required": True,
            "schema": {"type": "string"},
        },
    )
    spec.components.parameter(
        "X-Request-ID",
        "header",
        {
            "description": "An id for this request, echoed back and written in every log line about it. "
            "One of 1-128 visible ASCII characters is used as given; otherwise the gateway "
            "makes one.",
            "schema": {"type": "string"},
            "required": False,
        },
    )
    spec.components.parameter(
        "Idempotency-Key",
        "header",
        {
            "description": "Makes the create safe to retry: the same key with the same body returns the first "
            "response (for 24 hours); with another body, 422; while the first is still in progress, "
            '409. A structured-field string ("...") or a bare token, 1-255 characters.',
            "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
            "required": False,
            "example": '"8e03978e-40d5-43e8-bc93-6894a57f9324"',
        },
    )
    spec.components.parameter(
        "If-None-Match",
        "header",
        {
            "description": "ETags the client has; 304 Not Modified if the record still has one of them.",
            "schema": {"type": "string"},
            "required": False,
        },
    )
    spec.components.parameter(
        "If-Match",
        "header",
        {
            "description": "The record's ETag: the change is made only if the record still has it, else 412 and "
            "nothing changes (`*`: whatever it is now). Without it, the change applies to the record as it is.",
            "schema": {"type": "string", "pattern": IF_MATCH_PATTERN},
            "required": False,
            "example": '"1f0e3dad99908345f7439f8ffabdffc4"',
        },
    )
    samples = problem_samples()
    for status, description in ERROR_DESCRIPTIONS.items():
        if status == 401 and not auth:
            continue
        documents = {
            name: problem_document(problem, example_path, EXAMPLE_REQUEST_ID)
            for name, problem in samples[status].items()
        }
        examples = {name: {"summary": value["detail"], "value": value} for name, value in documents.items()}
        spec.components.response(
            _problem_name(status),
            {
                "description": description,
                "headers": {
                    "X-Request-ID": {"$ref": "#/components/headers/X-Request-ID"},
                    **_problem_headers(samples[status].values()),
                },
                "content": {PROBLEM_JSON: {"schema": "Problem", "examples": examples}},
            },
        )


def _problem_headers(problems):
    """The headers these problems carry, required only when every one of them carries it."""
    problems = list(problems)
    headers = {}
    for name, doc in PROBLEM_HEADERS.items():
        carriers = [p for p in problems if name in (p.headers or {})]
        if not carriers:
            continue
        if len(carriers) == len(problems):
            headers[name] = {**doc, "required": True}
        else:
            kinds = ", ".join(f"`{getattr(p, 'type_uri', 'about:blank')}`" for p in carriers)
            headers[name] = {**doc, "description": f"{doc['description']} Sent only with {kinds}.", "required": False}
    return headers


class _ExampleRequest:
    """Just enough of a Falcon request for the request checks that make the examples below."""

    def __init__(self, content_type=None, headers=None):
        self.content_type, self._headers = content_type, headers or {}

    def get_header(self, name):
        return self._headers.get(name)


def _raised(check, *args):
    try:
        check(*args)
    except falcon.HTTPError as problem:
        return problem
    raise RuntimeError(f"{check.__name__}{args} refused nothing: its example needs updating")


def problem_samples():
    """{status: {name: problem}}: one problem of each kind the gateway answers with, made by the
    code that makes the real ones (the request checks, and the error table for what services
    and the RPC clients raise). The document's problem examples and headers are built from these,
    so they cannot drift from what the server sends; only the details of the services' errors
    are made up here."""
    body_op = SimpleNamespace(any_content_type=False, body=AirportCreate)
    json_request = _ExampleRequest("application/json")
    samples = {
        "malformedJson": _raised(parse_body, body_op, json_request, b'{"name": "Lisbon",}'),
        "duplicateMember": _raised(parse_body, body_op, json_request, b'{"name": "Lisbon", "name": "Porto"}'),
        "malformedIdempotencyKey": _raised(idempotency_key, _ExampleRequest(headers={"Idempotency-Key": "a key"})),
        "malformedIfMatch": _raised(if_match, _ExampleRequest(headers={"If-Match": '"1f0e3dad99908345'})),
        "noToken": _raised(BearerAuth(["a-token"]).client_id, _ExampleRequest()),
        "noSuchRecord": problem_for(not_found("airport", "f2bddf0e506145f6ba0c28c247c54629")),
        "noSuchRoute": falcon.HTTPNotFound(),
        "methodNotAllowed": falcon.HTTPMethodNotAllowed(["GET", "HEAD", "OPTIONS", "POST"]),
        "preconditionFailed": problem_for(precondition_failed("airport")),
        "conflict": problem_for(iata_taken("LIS", "f2bddf0e506145f6ba0c28c247c54629")),
        "airportInUse": problem_for(
            airport_in_use(2, ["0c6f1e6a3b2d4c5e8f9a0b1c2d3e4f5a", "6b1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f"])
        ),
        "idempotencyKeyInUse": problem_for(IdempotencyKeyInUse(KEY_IN_USE)),
        "tooLarge": too_large(Settings().max_body_bytes),
        "notJson": _raised(parse_body, body_op, _ExampleRequest("text/plain"), b"Lisbon"),
        "invalidRequest": _raised(parse_body, body_op, json_request, b'{"name": " ", "iata": "lis", "city": "Lisbon"}'),
        "invalidInput": problem_for(InvalidInput({"airport_to": ["No airport with this id."]})),
        "idempotencyKeyReused": problem_for(IdempotencyKeyReused(KEY_REUSED)),
        "unexpected": unexpected(),
        "serviceFailed": service_failed(),
        "serviceUnavailable": problem_for(Unavailable()),
        "dataStoreUnavailable": problem_for(ServiceUnavailable("The data store is unavailable; try again later.")),
        "overloaded": problem_for(Overloaded()),
        "rateLimited": problem_for(RateLimited("More than 100 requests in 60 seconds; retry after Retry-After.")),
        "timeout": problem_for(RpcTimeout()),
    }
    by_status = defaultdict(dict)
    for name, problem in samples.items():
        by_status[problem.status_code][name] = problem
    return by_status


def _problem_name(status):
    return "".join(word.capitalize() for word in reason_phrase(status).replace("-", " ").split())


def _operation(op, needs_token=False):
    parameters = [
        {
            "in": "path",
            "name": name,
            "required": True,
            "description": description,
            "schema": {"type": "string", "pattern": ID_PATTERN.pattern},
        }
        for name, description in op.path_params.items()
    ]
    if op.query:
        parameters.append({"in": "query", "schema": op.query})
    if op.idempotency_key:
        parameters.append("Idempotency-Key")
    if op.conditional:
        parameters.append("If-None-Match")
    if op.if_match:
        parameters.append("If-Match")
    parameters.append("X-Request-ID")
    doc = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": parameters,
        "responses": {**_replies(op), **_errors(op, needs_token)},
    }
    doc["security"] = [{"bearerAuth": []}] if needs_token else []  # [] says "open to all"
    if op.description:
        doc["description"] = op.description
    if op.deprecated:
        doc["deprecated"] = True
    if op.body:
        doc["requestBody"] = {"required": True, "content": {"application/json": {"schema": op.body}}}
        if op.merge_patch:
            doc["requestBody"]["content"] = {MERGE_PATCH: {"schema": op.body}, "application/json": {"schema": op.body}}
            doc["requestBody"]["description"] = (
                "A JSON Merge Patch (RFC 7396): the members to change, with their new values (`null` for none, "
                "where the field may be none); members left out stay as they are. Sent as "
                f"`{MERGE_PATCH}` or as `application/json`."
            )
        if op.any_content_type:
            doc["requestBody"]["description"] = "JSON, whatever the Content-Type says (`curl -d` sends it as a form)."
    return doc


def _replies(op):
    responses = {}
    for status, reply in op.replies.items():
        headers = {"X-Request-ID": {"$ref": "#/components/headers/X-Request-ID"}}
        names = (*reply.headers, *(("Deprecation", "Link") if op.deprecated else ()))
        headers.update({name: {"$ref": f"#/components/headers/{name}"} for name in names})
        response = {"description": reply.description, "headers": headers}
        if reply.links:
            response["links"] = {
                name: {"operationId": target, "parameters": parameters}
                for name, (target, parameters) in reply.links.items()
            }
        if reply.schema is not None:
            response["content"] = {reply.media_type: {"schema": reply.schema}}
        elif reply.media_type.startswith("text/"):
            response["content"] = {reply.media_type: {"schema": {"type": "string"}}}
        responses[str(status)] = response
    return responses


def _errors(op, needs_token=False):
    statuses = set(op.errors) | set(EVERY_OPERATION_ERRORS) | ({401} if needs_token else set())
    if op.if_match:
        statuses |= {400, 412}
    if op.body:
        statuses |= set(BODY_ERRORS)
    if op.calls_services:
        statuses |= set(RPC_ERRORS)
    if op.rate_limited:
        statuses.add(429)
    statuses -= set(op.replies)
    return {str(status): _problem_name(status) for status in sorted(statuses)}


def document(auth=False):
    """The document of the gateway's own route table (as served with API_TOKENS set, with `auth`)."""
    from gateway.routes import API  # the route table imports this module's builder

    return build_document(API, auth=auth)


def render(doc, fmt):
    if fmt == "yaml":
        return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).encode()
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description="Write the gateway's OpenAPI document (no server needed).")
    parser.add_argument("--format", choices=["json", "yaml"], default="json")
    parser.add_argument("--output", help="file to write (default: standard output)")
    parser.add_argument(
        "--with-tokens", action="store_true", help="the document a gateway with API_TOKENS serves (bearer auth)"
    )
    args = parser.parse_args(argv)
    data = render(document(auth=args.with_tokens), args.format)
    if args.output:
        with open(args.output, "wb") as out:
            out.write(data)
    else:
        sys.stdout.buffer.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
