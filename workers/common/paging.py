"""Cursor pagination over a creation-ordered index.

Every record gets a sequence number from INCR when it is written, and an index
(sorted set) scores it by that number. A cursor is the last number a page showed,
so the next page starts strictly after it: records created while a client walks the
list appear once, at the end, and deletions shift nothing.

The cursor is opaque to clients (base64url of `<scope>:<number>`) and bound to the
listing it came from: a malformed cursor, or one of another listing, is refused. It is not
signed: a client that crafts one only chooses where its page starts.
"""

import base64
import binascii
import re

from schemas.errors import ValidationError
from workers.common.records import loads

_SEQ = re.compile(r"[0-9]{1,18}")


def _invalid_cursor():
    return ValidationError({"cursor": ["Not a valid cursor."]})


def encode_cursor(scope, seq):
    return base64.urlsafe_b64encode(f"{scope}:{seq}".encode()).rstrip(b"=").decode()


def decode_cursor(scope, cursor):
    """The sequence number in `cursor`; ValidationError unless it is one of ours for `scope`."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _invalid_cursor() from None
    found_scope, _, seq = text.rpartition(":")
    if found_scope != scope or not _SEQ.fullmatch(seq):  # ASCII digits only: str.isdigit takes "²"
        raise _invalid_cursor()
    return int(seq)


def read_page(redis, index_key, record_key, scope, limit, cursor):
    """{"items": [...], "next_cursor": str | None}: up to `limit` records after `cursor`."""
    after = decode_cursor(scope, cursor) if cursor else 0
    entries = redis.zrangebyscore(index_key, f"({after}", "+inf", start=0, num=limit + 1, withscores=True)
    page, more = entries[:limit], len(entries) > limit
    raw = redis.mget([record_key(member) for member, _ in page]) if page else []
    return {
        "items": [loads(item) for item in raw if item is not None],  # None: deleted meanwhile
        "next_cursor": encode_cursor(scope, int(page[-1][1])) if more else None,
    }
