"""Airports: what a client sends, what a record looks like, how a list is paged."""

import marshmallow
from marshmallow import Schema, fields, validates_schema

from schemas.fields import IATA_PATTERN, Cursor, FullMatch, Id, Limit, NextCursor, Timestamp
from schemas.names import Name

NAME_MAX_LENGTH = 120
IATA_LOOKUP_PATTERN = r"^[A-Za-z]{3}$"


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
    iata = fields.String(  # no default: a gateway passes it to the service only when asked (older
        # workers, during a rolling upgrade, take no `iata`)
        allow_none=True,
        validate=FullMatch(IATA_LOOKUP_PATTERN, error="Not a valid IATA code: three letters."),
        post_load=[str.upper],
        metadata={
            "description": "Only the airport with this IATA code (any case: `lis` finds LIS): a page of one, or "
            "an empty page. Not with `cursor`.",
            "example": "LIS",
        },
    )

    @validates_schema(skip_on_field_errors=True)
    def one_page_only(self, data, **kwargs):
        if data.get("iata") is not None and data["cursor"] is not None:
            raise marshmallow.ValidationError("A lookup by iata has one page only: leave cursor out.", "cursor")


class AirportPage(Schema):
    items = fields.List(fields.Nested(Airport), required=True)
    next_cursor = NextCursor()
