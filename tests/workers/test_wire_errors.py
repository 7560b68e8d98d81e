"""What a worker's failure looks like to its caller: an outage of Redis or of the broker is a
ServiceUnavailable (HTTP 503, "try again later"), everything else goes as raised."""

import pytest
from amqp.exceptions import MessageNacked
from kombu.exceptions import OperationalError
from redis import exceptions as redis_errors

from schemas.errors import NotFound, ServiceUnavailable
from workers.runtime.entrypoint import as_wire_error

pytestmark = pytest.mark.fast


def wire(exc):
    return as_wire_error((type(exc), exc, None))


@pytest.mark.parametrize(
    ("exc", "says"),
    [
        (redis_errors.ConnectionError("refused"), "data store"),
        (redis_errors.ResponseError("READONLY You can't write against a read only replica."), "data store"),
        (OperationalError("MessageNacked"), "message broker"),
        (MessageNacked(), "message broker"),
    ],
)
def test_an_outage_is_service_unavailable(exc, says):
    kind, replacement, _ = wire(exc)
    assert kind is ServiceUnavailable and says in str(replacement)
    assert replacement.__cause__ is exc  # the worker's log keeps what really happened


@pytest.mark.parametrize("exc", [NotFound("no such trip"), redis_errors.ResponseError("WRONGTYPE"), KeyError("x")])
def test_anything_else_goes_as_raised(exc):
    assert wire(exc)[1] is exc
