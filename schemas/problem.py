"""RFC 9457 problem details, the body of every error response, and the health report."""

from marshmallow import Schema, fields


class Problem(Schema):
    type = fields.String(
        required=True,
        metadata={
            "description": "A URI naming the kind of problem.",
            "example": "https://travel.example/problems/validation",
        },
    )
    title = fields.String(required=True, metadata={"example": "Unprocessable Content"})
    status = fields.Integer(required=True, metadata={"example": 422})
    detail = fields.String(metadata={"example": "The input is not valid."})
    instance = fields.String(metadata={"description": "The request path."})
    request_id = fields.String(metadata={"description": "The X-Request-ID of the request, for support."})
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={
            "description": "Validation messages by field; errors not tied to one field are under `_schema`.",
            "example": {"name": ["Missing data for required field."]},
        },
    )


class Check(Schema):
    ok = fields.Boolean(required=True)
    detail = fields.String()


class Health(Schema):
    status = fields.String(required=True, metadata={"enum": ["ok", "unavailable"]})
    checks = fields.Dict(keys=fields.String(), values=fields.Nested(Check))
