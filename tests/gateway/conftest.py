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
