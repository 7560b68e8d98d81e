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


def merged(record, patch):
    """`record` changed by a JSON Merge Patch (RFC 7396) of its fields. The records are flat, and
    null is how they say "none" (an airport's iata), so each member of the patch simply replaces
    the record's: removing a member (RFC 7396's null) and setting it to null are the same here."""
    return {**record, **patch}


def dumps(value):
    return orjson.dumps(value).decode()


loads = orjson.loads
