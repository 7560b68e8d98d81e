import pytest

from gateway.rpc.calls import RpcCall
from tests.support.processes import Stack

HUNG = RpcCall("airports_service", "get", {"airport_id": "a" * 32})  # answered after 2 s


def echo(value):
    return RpcCall("probe_service", "echo", {"value": value})


@pytest.fixture(scope="module")
def stack():
    """probe_service, and an airports_service whose `get` takes 2 s, on a vhost of their own."""
    stack = Stack(
        ["tests.services.probe", "tests.services.hung"],
        ["probe_service", "airports_service"],
        HANG_SECONDS=2,
        MAX_WORKERS=50,
    )
    yield stack
    stack.close()


PROBLEM = "application/problem+json"


def _assert_problem(result, status, **fields):
    assert result.status_code == status, result.text
    assert result.headers["content-type"] == PROBLEM
    problem = result.json
    assert problem["status"] == status
    assert {"type", "title", "status", "detail", "instance"} <= set(problem)
    for key, value in fields.items():
        assert problem[key] == value, problem
    assert "Traceback" not in result.text
    return problem


@pytest.fixture
def assert_problem():
    """assert_problem(result, status, **fields) -> the problem document, once `result` is an RFC
    9457 problem with that status (and these fields), with no stack trace in it."""
    return _assert_problem
