"""gateway/http/problems.py's table from errors to HTTP, row by row, and what is not in it: nameko's
RemoteError (a service failed: 502) and anything else (a fault of ours: 500, logged, told nothing).

The services' typed errors are given as a caller receives them, after nameko's serialize and
deserialize; the RPC clients' own errors as the clients raise them."""

import logging

import falcon
import falcon.testing
import pytest
from nameko.exceptions import IncorrectSignature, RemoteError, deserialize, serialize

from gateway.http import problems
from gateway.http.problems import ERROR_TABLE, HTTPProblem, problem_for, serialize_problem
from gateway.rpc.calls import NotConnected, Overloaded, RpcTimeout, Unavailable, UnknownService
from gateway.rpc.proxy_pool import PoolExhausted
from schemas.errors import (
    Conflict,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    NotFound,
    ServiceUnavailable,
    ValidationError,
    iata_taken,
    precondition_failed,
)

pytestmark = pytest.mark.fast


def over_the_wire(exc):
    return deserialize(serialize(exc))


# (error, status, problem type, errors by field, detail, headers); None: the detail is the error's own.
ROWS = [
    (
        over_the_wire(ValidationError({"name": ["Missing data for required field."]}, "Bad airport.")),
        422,
        problems.VALIDATION,
        {"name": ["Missing data for required field."]},
        "Bad airport.",
        {},
    ),
    (over_the_wire(IdempotencyKeyReused("Key used with another body.")), 422, problems.KEY_REUSED, None, None, {}),
    (
        over_the_wire(IdempotencyKeyInUse("Key still in progress.")),
        409,
        problems.KEY_IN_USE,
        None,
        None,
        {"Retry-After": "1"},
    ),
    (over_the_wire(NotFound("No airport with id 'x'.", ["x"])), 404, "about:blank", None, None, {}),
    (over_the_wire(precondition_failed("airport")), 412, "about:blank", None, None, {}),
    (over_the_wire(iata_taken("LIS", "f" * 32)), 409, problems.CONFLICT, None, None, {}),
    (
        over_the_wire(ServiceUnavailable("The data store is unavailable; try again later.")),
        503,
        "about:blank",
        None,
        None,
        {"Retry-After": "5"},
    ),
    (
        Overloaded("Too many calls in flight."),
        503,
        problems.OVERLOADED,
        None,
        "The gateway is at capacity; retry after the seconds in Retry-After.",
        {"Retry-After": "1"},
    ),
    (
        PoolExhausted("No RPC proxy became free in time."),
        503,
        problems.OVERLOADED,
        None,
        "The gateway is at capacity; retry after the seconds in Retry-After.",
        {"Retry-After": "1"},
    ),
    *(
        (
            error,
            503,
            "about:blank",
            None,
            "A service needed for this request is unavailable; retry after the seconds in Retry-After.",
            {"Retry-After": "5"},
        )
        for error in (
            Unavailable("broker at 10.0.0.7 unreachable"),
            NotConnected("No connection to the broker."),
            UnknownService("Unknown service `airports_service`"),
        )
    ),
    (
        RpcTimeout("The service did not answer in time."),
        504,
        "about:blank",
        None,
        "A service did not answer in time, and the request may have taken effect: retry it (a create or a "
        "change with the same Idempotency-Key).",
        {},
    ),
    (
        problems.RateLimited("Over the limit.", {"Retry-After": "2", "RateLimit": '"default";r=0;t=9'}),
        429,
        problems.RATE_LIMITED,
        None,
        "Over the limit.",
        {"Retry-After": "2", "RateLimit": '"default";r=0;t=9'},
    ),
]


@pytest.mark.parametrize(
    "error, status, type_uri, errors, detail, headers", ROWS, ids=[type(row[0]).__name__ for row in ROWS]
)
def test_each_row_of_the_table(error, status, type_uri, errors, detail, headers):
    problem = problem_for(error)
    assert isinstance(problem, HTTPProblem)
    assert problem.status_code == status
    assert problem.type_uri == type_uri
    assert problem.errors == errors
    assert problem.description == (str(error) if detail is None else detail)
    assert dict(problem.headers or {}) == headers


def test_a_conflict_names_what_it_conflicts_with():
    problem = problem_for(over_the_wire(iata_taken("LIS", "f" * 32)))
    document = problems.problem_document(problem, "/airports")
    assert document["conflicts_with"] == {"airports": ["f" * 32]}
    assert "conflicts_with" not in problems.problem_document(problem_for(Conflict("No names.")), "/airports")


def test_the_typed_errors_arrive_as_themselves():
    # what makes the rows above meaningful: nameko rebuilds each registered class, not RemoteError
    for error, *_ in ROWS:
        assert not isinstance(error, RemoteError)


def test_every_row_is_tested():
    tested = {type(error) for error, *_ in ROWS}
    for error_type in ERROR_TABLE:
        assert error_type in tested, f"{error_type.__name__} has a row in ERROR_TABLE but no case here"


def test_a_failed_service_is_502_and_logged(caplog):
    error = over_the_wire(KeyError("airport_from"))  # what a bug in a worker sends
    assert isinstance(error, RemoteError)
    with caplog.at_level(logging.ERROR, logger="gateway.errors"):
        problem = problem_for(error)
    assert (problem.status_code, problem.type_uri) == (502, "about:blank")
    assert (
        problem.description
        == "A service failed to handle the request; retry later, and report the request_id if it goes on."
    )
    assert "KeyError" in caplog.text  # the details go to the log, not to the client


def test_a_call_the_service_refused_is_our_fault_500(caplog):
    with caplog.at_level(logging.ERROR, logger="gateway.errors"):
        problem = problem_for(over_the_wire(IncorrectSignature("unexpected keyword argument 'colour'")))
    assert (
        problem.status_code == 500
        and problem.description == "An unexpected error occurred; retry later, and report the request_id if it goes on."
    )
    assert "refused the gateway's call" in caplog.text and "colour" in caplog.text


def test_an_unexpected_error_is_500_logged_with_its_traceback_and_answered_without_it(caplog):
    try:
        raise RuntimeError("secret internal state at 0xdeadbeef")
    except RuntimeError as exc:
        error = exc
    with caplog.at_level(logging.ERROR, logger="gateway.errors"):
        problem = problem_for(error)
    assert (problem.status_code, problem.type_uri) == (500, "about:blank")
    assert problem.description == "An unexpected error occurred; retry later, and report the request_id if it goes on."
    assert problem.errors is None and not problem.headers
    [record] = [r for r in caplog.records if r.name == "gateway.errors"]
    assert record.exc_info[1] is error  # logged with its traceback

    # and what the client gets, rendered by the app's error serializer
    app = falcon.App()
    app.set_error_serializer(serialize_problem)

    class Failing:
        def on_get(self, req, resp):
            raise problem_for(error)

    app.add_route("/failing", Failing())
    result = falcon.testing.TestClient(app).simulate_get("/failing")
    assert result.status_code == 500
    assert result.headers["content-type"] == problems.PROBLEM_JSON
    assert result.json == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "An unexpected error occurred; retry later, and report the request_id if it goes on.",
        "instance": "/failing",
    }
    assert "secret" not in result.text and "RuntimeError" not in result.text


@pytest.mark.parametrize(
    ("status", "title"),
    [(413, "Content Too Large"), (422, "Unprocessable Content"), (404, "Not Found"), (503, "Service Unavailable")],
)
def test_titles_are_rfc_9110_phrases_on_every_python(status, title):
    # Python 3.13 took RFC 9110's phrases into http.HTTPStatus; 3.11 and 3.12 still say "Request
    # Entity Too Large" and "Unprocessable Entity". The title must not depend on which runs.
    problem = HTTPProblem(status, "detail")
    assert problem.title == title
    assert problems.problem_document(problem, "/x")["title"] == title
