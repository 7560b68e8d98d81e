"""RFC 9457 problem details, the body of every error response, and the health report."""

from marshmallow import Schema, fields

from schemas.errors import NAMED_AT_MOST
from schemas.fields import Id


class ConflictingRecords(Schema):
    airports = fields.List(Id(), metadata={"description": "The airport holding the IATA code asked for."})
    trips = fields.List(
        Id(),
        metadata={"description": f"Trips using the airport (at most {NAMED_AT_MOST} of them; `detail` says how many)."},
    )


class Problem(Schema):
    # No examples here: the API description adds ones made by the code that answers errors
    # (gateway.openapi), which this module, shared with the workers, cannot import.
    type = fields.String(required=True, metadata={"description": "A URI naming the kind of problem."})
    title = fields.String(required=True, metadata={"description": "The status code's reason phrase."})
    status = fields.Integer(required=True)
    detail = fields.String(metadata={"description": "What went wrong, for people."})
    instance = fields.String(metadata={"description": "The request path."})
    request_id = fields.String(metadata={"description": "The X-Request-ID of the request, for support."})
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "Validation messages by field; errors not tied to one field are under `_schema`."},
    )
    conflicts_with = fields.Nested(
        ConflictingRecords,
        metadata={"description": "With a 409 conflict: the records the request conflicts with, by id."},
    )


class Check(Schema):
    ok = fields.Boolean(required=True)
    detail = fields.String()


class Health(Schema):
    status = fields.String(required=True, metadata={"enum": ["ok", "unavailable"]})
    checks = fields.Dict(keys=fields.String(), values=fields.Nested(Check))
