"""Airports: what a client sends, what a record looks like, how a list is paged."""

from marshmallow import Schema, fields

from schemas.fields import IATA_PATTERN, Cursor, FullMatch, Id, Limit, NextCursor, Timestamp
from schemas.names import Name

NAME_MAX_LENGTH = 120


class AirportCreate(Schema):
    name = Name(
        required=True,
        max_length=NAME_MAX_LENGTH,
        metadata={
            "description": "At most 120 characters, at least one of them visible; no control characters (tab, "
            "newline...) nor bidirectional controls. Surrounding white space is trimmed, and the name is "
            "normalised to NFC.",
            "example": "Lisbon",
        },
    )
    iata = fields.String(
        load_default=None,  # optional: the document leaves this out (gateway.openapi), not "default: null"
        allow_none=True,
        validate=FullMatch(IATA_PATTERN, error="Not a valid IATA code: three letters A-Z."),
        metadata={
            "description": "Three-letter IATA code, unique among airports; omit it (or null) for none.",
            "example": "LIS",
        },
    )


class AirportUpdate(Schema):
    """A JSON Merge Patch of an airport: the fields to change (no field is required, none defaults)."""

    name = Name(
        max_length=NAME_MAX_LENGTH,
        metadata={"description": "The new name, under the same rules as at creation.", "example": "Lisboa"},
    )
    iata = fields.String(
        allow_none=True,
        validate=FullMatch(IATA_PATTERN, error="Not a valid IATA code: three letters A-Z."),
        metadata={"description": "The new IATA code, unique among airports; null for none.", "example": "LIS"},
    )


class Airport(Schema):
    id = Id(required=True)
    name = fields.String(required=True, metadata={"example": "Lisbon"})
    iata = fields.String(required=True, allow_none=True, metadata={"example": "LIS"})
    created_at = Timestamp(required=True)


class AirportListQuery(Schema):
    limit = Limit()
    cursor = Cursor()


class AirportPage(Schema):
    items = fields.List(fields.Nested(Airport), required=True)
    next_cursor = NextCursor()
