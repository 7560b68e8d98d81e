"""The interfaces the gateway's runners call, declared as httpx declares its transports:
`BaseRpcClient` for the WSGI app (ProxyPool, blocking) and `AsyncBaseRpcClient` for the ASGI app
(AsyncRpcClient, asyncio). An app factory's `rpc=` takes anything that has them (the fast tier
passes in-process fakes)."""

from typing import Any, Protocol, runtime_checkable

from gateway.rpc.calls import Caller, RpcCall


@runtime_checkable
class BaseRpcClient(Protocol):
    @property
    def connected(self) -> bool:
        """Whether calls can go out now (the readiness check reports it)."""

    def call(self, rpc_call: RpcCall, caller: Caller) -> Any:
        """The method's result, or the error the service raised (schemas.errors), or an RpcError."""

    def close(self) -> None:
        """Stop: no call is made after this."""


@runtime_checkable
class AsyncBaseRpcClient(Protocol):
    @property
    def connected(self) -> bool:
        """Whether calls can go out now (the readiness check reports it)."""

    async def start(self) -> None:
        """Begin connecting in the background (the app's start-up)."""

    async def wait_connected(self, timeout: float) -> bool:
        """True once calls can go out, False after `timeout` seconds."""

    async def call(self, rpc_call: RpcCall, caller: Caller) -> Any:
        """The method's result, or the error the service raised (schemas.errors), or an RpcError."""

    async def close(self) -> None:
        """Stop: no call is made after this."""
