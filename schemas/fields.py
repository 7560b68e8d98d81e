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


class FullMatch(validate.Regexp):
    """marshmallow's Regexp, matched against the whole value. Regexp uses `re.match`, where `$`
    also matches before a final newline: "LIS\\n" passed `^[A-Z]{3}$`. The pattern itself stays
    as written, for the OpenAPI document (where `$` means the end, as in ECMAScript)."""

    def __call__(self, value):
        if self.regex.fullmatch(value) is None:
            raise marshmallow.ValidationError(self._format_error(value))
        return value


# The white space ECMAScript's \s matches (the regex dialect of JSON Schema's `pattern`). The
# server trims exactly these, not Python's str.isspace() set (which adds \x1c-\x1f and \x85 and
# lacks \ufeff), so that the documented pattern and the server's rule are the same rule.
_WHITE_SPACE_CLASS = r"\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
# Anchored at the start only, as marshmallow's Regexp matches: some white space, then anything else.
NON_BLANK_PATTERN = rf"^[{_WHITE_SPACE_CLASS}]*[^{_WHITE_SPACE_CLASS}]"
_SURROUNDING_SPACE = re.compile(rf"^[{_WHITE_SPACE_CLASS}]+|[{_WHITE_SPACE_CLASS}]+\Z")


class TrimmedString(fields.String):
    """A string that must hold more than white space, which is trimmed from both ends. The
    non-blank rule is a Regexp validator, so the OpenAPI document carries it as a `pattern`; the
    Length validator's maximum also bounds the string as sent, so the documented maxLength holds."""

    def __init__(self, *args, **kwargs):
        validators = kwargs.pop("validate", None) or []
        validators = [validators] if callable(validators) else list(validators)
        non_blank = validate.Regexp(NON_BLANK_PATTERN, error="Must contain more than white space.")
        super().__init__(*args, validate=[non_blank, *validators], **kwargs)
        self._longest = min((v.max for v in self.validators if isinstance(v, validate.Length) and v.max), default=None)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        longest = self._longest
        if longest is not None and len(text) > longest:
            raise marshmallow.ValidationError(f"Longer than {longest} characters.")
        return _SURROUNDING_SPACE.sub("", text)


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
