"""Trips: a journey from one airport to another."""

import marshmallow
from marshmallow import Schema, fields, validates_schema

from schemas.fields import Cursor, Id, Limit, NextCursor, Timestamp


class TripCreate(Schema):
    airport_from = Id(required=True, metadata={"description": "Id of the departure airport."})
    airport_to = Id(required=True, metadata={"description": "Id of the arrival airport; not the departure one."})

    @validates_schema(skip_on_field_errors=True)
    def airports_differ(self, data, **kwargs):
        if data["airport_from"] == data["airport_to"]:
            raise marshmallow.ValidationError("Must differ from airport_from.", field_name="airport_to")


class TripUpdate(Schema):
    """A JSON Merge Patch of a trip: the airports to change (no field is required, none defaults)."""

    airport_from = Id(metadata={"description": "The new departure airport; it must exist."})
    airport_to = Id(metadata={"description": "The new arrival airport; it must exist, and differ from the departure."})


class Trip(Schema):
    id = Id(required=True)
    airport_from = Id(required=True)
    airport_to = Id(required=True)
    created_at = Timestamp(required=True)


class TripListQuery(Schema):
    airport = Id(load_default=None, metadata={"description": "Only trips from or to this airport."})
    limit = Limit()
    cursor = Cursor()


class AirportTripsQuery(Schema):
    """The query of an airport's trips (the airport is in the path)."""

    limit = Limit()
    cursor = Cursor()


class TripPage(Schema):
    items = fields.List(fields.Nested(Trip), required=True)
    next_cursor = NextCursor()
