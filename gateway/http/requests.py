"""From a Falcon request to an ApiRequest: body, query and headers read and validated against
the operation's contract. Everything here is shared by the ASGI and WSGI apps; only reading
the body's bytes differs (see gateway.http.runners)."""

import functools
import json
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
# RFC 9110 8.8.3 and 13.1.1: "*", or entity tags separated by commas (and optional white space);
# leniently, a tag without its quotes too (clients that strip them), compared as the quoted one.
_ENTITY_TAG = r'(?:W/)?"[!#-~]*"|[!#-)+.-~-]+'  # etagc without obs-text (\x80-\xff): no tag of ours has it
IF_MATCH_PATTERN = rf"^(?:\*|(?:{_ENTITY_TAG})(?:[ \t]*,[ \t]*(?:{_ENTITY_TAG}))*)$"
_IF_MATCH = re.compile(IF_MATCH_PATTERN)
_TAG = re.compile(_ENTITY_TAG)


def check_length(req, limit):
    """413 before reading anything when Content-Length already says too much."""
    if req.content_length is not None and req.content_length > limit:
        raise too_large(limit)


def too_large(limit):
    return HTTPProblem(413, f"The body is larger than {limit} bytes; send a smaller one.")


def build_request(op, req, params, raw_body, broker_connected=lambda: True, client=None):
    if not op.body:
        refuse_untyped_content(op, req)
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
        if_match=if_match(req) if op.if_match else None,
        broker_connected=broker_connected,
    )


def parse_body(op, req, raw):
    # No Content-Type is no JSON either: a browser sends such a POST cross-site without asking first.
    # The article's routes (any_content_type) read JSON whatever the type, for `curl -d` (README).
    if not op.any_content_type and not _JSON_TYPE.match((req.content_type or "").split(";")[0].strip()):
        raise HTTPProblem(415, "Send the body as application/json.")
    if not raw:
        raise HTTPProblem(400, "The request has no body; send the JSON this operation takes.")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise HTTPProblem(400, f"The body is not valid JSON ({exc}); correct it there.") from None
    if isinstance(data, (dict, list)):
        check_unique_members(raw)
    return _load(op.body, data)


def refuse_untyped_content(op, req):
    """415 for a POST, PATCH or DELETE that carries content without saying its type, though the
    operation reads none (a DELETE without content needs no Content-Type)."""
    if op.method in ("POST", "PATCH", "DELETE") and not op.any_content_type and not req.content_type:
        if req.content_length or req.get_header("Transfer-Encoding"):
            raise HTTPProblem(415, "Say the content's type (Content-Type: application/json).")


class _DuplicateMember(Exception):
    pass


def _unique_members(pairs):
    members = dict(pairs)
    if len(members) != len(pairs):
        seen = set()
        raise _DuplicateMember(next(name for name, _ in pairs if name in seen or seen.add(name)))
    return members


_MEMBERS_DECODER = json.JSONDecoder(object_pairs_hook=_unique_members)


def check_unique_members(raw):
    """400 unless each object's member names are unique, as I-JSON (RFC 7493) requires: orjson
    keeps the last of a repeated name silently, the standard library's decoder hands every pair to
    a hook (about 2 µs more for a create's body)."""
    try:
        _MEMBERS_DECODER.decode(raw.decode())
    except _DuplicateMember as duplicate:
        name = json.dumps(duplicate.args[0][:64])  # quoted and escaped: never raw
        raise HTTPProblem(
            400, f"The body has the member {name} twice in one object; send each member name once."
        ) from None
    except RecursionError:  # deeper than Python's limit, though within orjson's
        raise HTTPProblem(400, "The body is nested too deeply.") from None


@functools.cache
def _instance(schema):
    return schema()  # loading keeps no state in the schema, and making one is not cheap


def _load(schema, data):
    try:
        return _instance(schema).load(data)
    except marshmallow.ValidationError as exc:
        raise invalid(field_messages(exc.messages)) from None


def if_match(req):
    """If-Match's entity tags, as a list (["*"] for "*"); None without the header."""
    value = req.get_header("If-Match")
    if value is None:
        return None
    value = value.strip(" \t")
    if not _IF_MATCH.fullmatch(value):
        raise HTTPProblem(400, 'If-Match must be * or entity tags ("...", as ETag sends them) separated by commas.')
    return ["*"] if value == "*" else [tag if tag.endswith('"') else f'"{tag}"' for tag in _TAG.findall(value)]


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
