"""Field types shared by the request, record and query schemas."""

import re

from marshmallow import ValidationError, fields, validate

ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
IATA_PATTERN = re.compile(r"^[A-Z]{3}$")
CURSOR_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


def is_id(value):
    """True for a well-formed record id: checked before an id ever becomes part of a Redis key."""
    return isinstance(value, str) and ID_PATTERN.match(value) is not None


class TrimmedString(fields.String):
    """A string with surrounding white space removed before it is validated. The Length
    validator's maximum also bounds the string as sent, so the documented maxLength holds."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._longest = min((v.max for v in self.validators if isinstance(v, validate.Length) and v.max), default=None)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        longest = self._longest
        if longest is not None and len(text) > longest:
            raise ValidationError(f"Longer than {longest} characters.")
        return text.strip()


def Id(**kwargs):
    """A record id; pass `load_default=None` for an optional one."""
    return fields.String(
        validate=validate.Regexp(ID_PATTERN, error="Not a valid id: 32 lowercase hexadecimal characters."),
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
        validate=validate.Regexp(CURSOR_PATTERN, error="Not a valid cursor."),
        metadata={"description": "The `next_cursor` of the previous page; omit it for the first page."},
    )


def NextCursor():
    return fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Pass it as `cursor` to get the next page; null on the last page."},
    )
