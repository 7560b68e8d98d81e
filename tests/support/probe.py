"""The calls the RPC client tests make to the `stack` fixture's services (tests/conftest.py):
tests/services/probe.py answers at once, tests/services/hung.py's airports_service after 2 s."""

from gateway.rpc.calls import RpcCall

HUNG = RpcCall("airports_service", "get", {"airport_id": "a" * 32})  # answered after 2 s
PROBE = RpcCall("probe_service", "context")


def echo(value):
    return RpcCall("probe_service", "echo", {"value": value})
