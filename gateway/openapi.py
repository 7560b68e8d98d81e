"""The OpenAPI 3.1 document, built from the route table and the marshmallow schemas that serve
the requests (apispec's MarshmallowPlugin): nothing in it is written by hand a second time.

    python -m gateway.openapi                      # JSON on stdout
    python -m gateway.openapi --output docs/openapi.json
    python -m gateway.openapi --format yaml
"""

import argparse
import http
import sys
from importlib.metadata import PackageNotFoundError, version

import orjson
import yaml
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from gateway.http.auth import MUTATING
from gateway.http.problems import KEY_IN_USE, KEY_REUSED, OVERLOADED, PROBLEM_JSON, VALIDATION
from gateway.http.requests import IDEMPOTENCY_KEY_PATTERN
from schemas.fields import ID_PATTERN
from schemas.problem import Problem

OPENAPI_VERSION = "3.1.0"
DESCRIPTION = f"""\
The travel system of "Introduction to Python Microservices With Nameko": airports and trips,
served by nameko services over RabbitMQ, with this gateway in front.

Every error is an RFC 9457 problem document (`application/problem+json`). Problem types a
client may want to tell apart are tag URIs: `{VALIDATION}` (with `errors` by field),
`{KEY_REUSED}`, `{KEY_IN_USE}` and `{OVERLOADED}`; the rest are `about:blank`.

Creates accept an `Idempotency-Key`: a retry with the same key and body returns the first
response and creates nothing.
"""

BODY_ERRORS = (400, 413, 415, 422)
RPC_ERRORS = (502, 503, 504)
ERROR_DESCRIPTIONS = {
    400: "Malformed JSON, or a malformed header.",
    401: "No valid bearer token (see WWW-Authenticate).",
    404: "No such record.",
    409: "The request conflicts with the current state (see `detail`), or a request with the same "
    "Idempotency-Key is still being processed (then with Retry-After).",
    413: "The body is larger than the gateway accepts.",
    415: "The body is not JSON.",
    422: "The input is not valid: `errors` names each field at fault. Also an Idempotency-Key "
    "reused with a different body.",
    500: "An unexpected error in the gateway.",
    502: "A service failed to handle the request.",
    503: "A service, the broker or the gateway's capacity is unavailable; retry after Retry-After.",
    504: "A service did not answer in time.",
}
RETRY_AFTER_STATUSES = (409, 503)


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
        info={"description": DESCRIPTION, "license": {"name": "MIT", "identifier": "MIT"}},
        servers=[{"url": "/", "description": "This gateway"}],
    )
    _components(spec, auth)
    if auth:
        spec.components.security_scheme(
            "bearerAuth",
            {
                "type": "http",
                "scheme": "bearer",
                "description": "One of the tokens in the gateway's API_TOKENS; needed to create and delete.",
            },
        )
    for op in operations:
        if op.documented:
            spec.path(path=op.path, operations={op.method.lower(): _operation(op, auth and op.method in MUTATING)})
    return _query_parameters_are_never_null(spec.to_dict())


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


def _components(spec, auth):
    spec.components.schema("Problem", schema=Problem)
    spec.components.header(
        "X-Request-ID",
        {
            "description": "The request's id: the one sent in X-Request-ID if usable, else a new one.",
            "schema": {"type": "string"},
        },
    )
    spec.components.header(
        "Retry-After", {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}
    )
    spec.components.header("Location", {"description": "Path of the created record.", "schema": {"type": "string"}})
    spec.components.header(
        "ETag", {"description": "Entity tag of the record, for If-None-Match.", "schema": {"type": "string"}}
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
    for status, description in ERROR_DESCRIPTIONS.items():
        if status == 401 and not auth:
            continue
        response = {
            "description": description,
            "headers": {"X-Request-ID": {"$ref": "#/components/headers/X-Request-ID"}},
            "content": {PROBLEM_JSON: {"schema": "Problem"}},
        }
        if status in RETRY_AFTER_STATUSES:
            response["headers"]["Retry-After"] = {"$ref": "#/components/headers/Retry-After"}
        if status == 401:
            response["headers"]["WWW-Authenticate"] = {
                "description": "The Bearer challenge.",
                "schema": {"type": "string"},
            }
        spec.components.response(_problem_name(status), response)


def _problem_name(status):
    return "".join(word.capitalize() for word in http.HTTPStatus(status).phrase.replace("-", " ").split())


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
    parameters.append("X-Request-ID")
    doc = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": parameters,
        "responses": {**_replies(op), **_errors(op, needs_token)},
    }
    if needs_token:
        doc["security"] = [{"bearerAuth": []}]
    if op.description:
        doc["description"] = op.description
    if op.deprecated:
        doc["deprecated"] = True
    if op.body:
        doc["requestBody"] = {"required": True, "content": {"application/json": {"schema": op.body}}}
        if op.any_content_type:
            doc["requestBody"]["description"] = "JSON, whatever the Content-Type says (`curl -d` sends it as a form)."
    return doc


def _replies(op):
    responses = {}
    for status, reply in op.replies.items():
        headers = {"X-Request-ID": {"$ref": "#/components/headers/X-Request-ID"}}
        headers.update({name: {"$ref": f"#/components/headers/{name}"} for name in reply.headers})
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
    statuses = set(op.errors) | {500} | ({401} if needs_token else set())
    if op.body:
        statuses |= set(BODY_ERRORS)
    if op.calls_services:
        statuses |= set(RPC_ERRORS)
    statuses -= set(op.replies)
    return {str(status): _problem_name(status) for status in sorted(statuses)}


def document():
    """The document of the gateway's own route table."""
    from gateway.routes import API  # the route table imports this module's builder

    return build_document(API)


def render(doc, fmt):
    if fmt == "yaml":
        return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).encode()
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description="Write the gateway's OpenAPI document (no server needed).")
    parser.add_argument("--format", choices=["json", "yaml"], default="json")
    parser.add_argument("--output", help="file to write (default: standard output)")
    args = parser.parse_args(argv)
    data = render(document(), args.format)
    if args.output:
        with open(args.output, "wb") as out:
            out.write(data)
    else:
        sys.stdout.buffer.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
