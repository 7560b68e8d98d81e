"""How records are born: ids, timestamps, JSON."""

import uuid
from datetime import UTC, datetime

import orjson


def new_id():
    """32 lowercase hex characters, random (uuid4)."""
    return uuid.uuid4().hex


def utc_now():
    """The current time as an RFC 3339 UTC string with milliseconds, e.g. 2026-11-27T09:30:00.123Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def dumps(value):
    return orjson.dumps(value).decode()


loads = orjson.loads
