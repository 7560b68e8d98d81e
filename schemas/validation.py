"""Loading input through a schema, with failures turned into the wire's ValidationError."""

import marshmallow

from schemas.errors import ValidationError


def load(schema, data):
    """`schema.load(data)`, raising `schemas.errors.ValidationError` with messages by field."""
    try:
        return schema.load(data)
    except marshmallow.ValidationError as exc:
        raise ValidationError(field_messages(exc.messages)) from None


def field_messages(messages):
    """marshmallow's messages as {field: [str]}: JSON-safe and flat, as the problem documents carry them."""
    if not isinstance(messages, dict):
        return {marshmallow.error_store.SCHEMA: [str(m) for m in _as_list(messages)]}
    return {str(field): [str(m) for m in _flatten(msgs)] for field, msgs in messages.items()}


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _flatten(messages):
    if isinstance(messages, dict):
        for key, nested in messages.items():
            for message in _flatten(nested):
                yield f"{key}: {message}"
    else:
        yield from _as_list(messages)
