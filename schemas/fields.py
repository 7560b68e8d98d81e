"""Field types shared by the request, record and query schemas."""

import re

import marshmallow
from marshmallow import fields, validate

ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
IATA_PATTERN = re.compile(r"^[A-Z]{3}$")
CURSOR_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


def is_id(value):
    """True for a well-formed record id: checked before an id ever becomes part of a Redis key."""
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None


# Who holds airports (trips_service asks airports_service to hold them): a trip, by its id, for the
# holds its create took; `<trip id>.<change id>` for the holds one change of its airports took.
HOLDER_PATTERN = re.compile(r"[0-9a-f]{32}(?:\.[0-9a-f]{32})?")


def is_holder(value):
    return isinstance(value, str) and HOLDER_PATTERN.fullmatch(value) is not None


def trip_of(holder):
    """The trip a holder id belongs to."""
    return holder[:32]


class FullMatch(validate.Regexp):
    """marshmallow's Regexp, matched against the whole value. Regexp uses `re.match`, where `$`
    also matches before a final newline: "LIS\\n" passed `^[A-Z]{3}$`. The pattern itself stays
    as written, for the OpenAPI document (where `$` means the end, as in ECMAScript)."""

    def __call__(self, value):
        if self.regex.fullmatch(value) is None:
            raise marshmallow.ValidationError(self._format_error(value))
        return value


def Id(**kwargs):
    """A record id; pass `load_default=None` for an optional one."""
    return fields.String(
        validate=FullMatch(ID_PATTERN, error="Not a valid id: 32 lowercase hexadecimal characters."),
        metadata={"example": "f2bddf0e506145f6ba0c28c247c54629", **kwargs.pop("metadata", {})},
        **kwargs,
    )


def Timestamp(**kwargs):
    return fields.String(
        metadata={"format": "date-time", "description": "RFC 3339, UTC.", "example": "2026-11-27T09:30:00.000Z"},
        **kwargs,
    )


def Limit():
    return fields.Integer(
        load_default=DEFAULT_PAGE_SIZE,
        validate=validate.Range(min=1, max=MAX_PAGE_SIZE),
        metadata={"description": "Page size."},
    )


def Cursor():
    return fields.String(
        load_default=None,  # the first page
        validate=FullMatch(CURSOR_PATTERN, error="Not a valid cursor."),
        metadata={"description": "The `next_cursor` of the previous page; omit it for the first page."},
    )


def NextCursor():
    return fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Pass it as `cursor` to get the next page; null on the last page."},
    )
