"""From a Falcon request to an ApiRequest: body, query and headers read and validated against
the operation's contract. Everything here is shared by the ASGI and WSGI apps; only reading
the body's bytes differs (see gateway.http.runners)."""

import functools
import re

import marshmallow
import orjson

from gateway.http.operations import ApiRequest
from gateway.http.problems import HTTPProblem, invalid
from schemas.validation import field_messages

_JSON_TYPE = re.compile(r"^application/(?:[\w.+-]+\+)?json\Z", re.IGNORECASE)
# A structured-field string without escapes ("..."), or, leniently, a bare token.
IDEMPOTENCY_KEY_PATTERN = r'^(?:"[ !#-\[\]-~]{1,255}"|[!#-~]{1,255})$'
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)


def check_length(req, limit):
    """413 before reading anything when Content-Length already says too much."""
    if req.content_length is not None and req.content_length > limit:
        raise too_large(limit)


def too_large(limit):
    return HTTPProblem(413, f"The body is larger than {limit} bytes.")


def build_request(op, req, params, raw_body, broker_connected=lambda: True, client=None):
    key = idempotency_key(req) if op.idempotency_key else None
    if key is not None and client is not None:
        key = f"{client}:{key}"  # one client's keys never meet another's
    return ApiRequest(
        path=req.path,
        params=params,
        query=_load(op.query, dict(req.params)) if op.query else {},
        body=parse_body(op, req, raw_body) if op.body else None,
        request_id=req.context.request_id,
        idempotency_key=key,
        if_none_match=req.get_header("If-None-Match") if op.conditional else None,
        broker_connected=broker_connected,
    )


def parse_body(op, req, raw):
    if not op.any_content_type and req.content_type and not _JSON_TYPE.match(req.content_type.split(";")[0].strip()):
        raise HTTPProblem(415, "Send the body as application/json.")
    if not raw:
        raise HTTPProblem(400, "The request needs a JSON body.")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise HTTPProblem(400, f"The body is not valid JSON: {exc}.") from None
    return _load(op.body, data)


@functools.cache
def _instance(schema):
    return schema()  # loading keeps no state in the schema, and making one is not cheap


def _load(schema, data):
    try:
        return _instance(schema).load(data)
    except marshmallow.ValidationError as exc:
        raise invalid(field_messages(exc.messages)) from None


def idempotency_key(req):
    """The Idempotency-Key header's key: the string inside the quotes, or the bare token."""
    value = req.get_header("Idempotency-Key")
    if value is None:
        return None
    if not _IDEMPOTENCY_KEY.fullmatch(value):
        raise HTTPProblem(
            400, 'Idempotency-Key must be a quoted string ("...") or a token of 1-255 visible ASCII characters.'
        )
    return value[1:-1] if value.startswith('"') else value
