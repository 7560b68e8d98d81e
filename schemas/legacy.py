"""The article's original routes (/airport, /trip), kept working and marked deprecated."""

from marshmallow import Schema, fields

from schemas.airports import NAME_MAX_LENGTH
from schemas.fields import Id
from schemas.names import Name


class LegacyAirportCreate(Schema):
    airport = Name(
        required=True,
        max_length=NAME_MAX_LENGTH,
        metadata={"description": "The airport's name.", "example": "first_airport"},
    )


class LegacyAirport(Schema):
    airport = fields.String(required=True, metadata={"example": "first_airport"})


class LegacyTripEnds(Schema):
    from_ = Id(required=True, data_key="from")
    to = Id(required=True)


class LegacyTrip(Schema):
    trip = fields.Nested(LegacyTripEnds, required=True)
