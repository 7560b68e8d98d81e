"""Both RPC clients against the interfaces they declare (gateway/rpc/base.py), on the real broker
and real `nameko run` services: what the runners rely on, the same from each."""

import asyncio
import time

import pytest

from gateway.rpc.asyncio_client import AsyncRpcClient
from gateway.rpc.base import AsyncBaseRpcClient, BaseRpcClient
from gateway.rpc.calls import Caller, RpcCall, RpcTimeout, UnknownService
from gateway.rpc.proxy_pool import ProxyPool
from tests.support.probe import HUNG, PROBE, echo


class Blocking:
    """A BaseRpcClient's calls, awaited in a thread, so that one test body serves both clients."""

    def __init__(self, client):
        self.client = client

    async def call(self, rpc_call, caller):
        return await asyncio.to_thread(self.client.call, rpc_call, caller)


@pytest.fixture(params=["asyncio", "proxy pool"])
async def rpc(request, services_on_vhost):
    if request.param == "asyncio":
        client = AsyncRpcClient(services_on_vhost.amqp, timeout=5, connection_name="travel-test-clients")
        assert isinstance(client, AsyncBaseRpcClient)
        await client.start()
        assert await client.wait_connected(5) and client.connected
        yield client
        await client.close()
    else:
        client = ProxyPool({"AMQP_URI": services_on_vhost.amqp}, size=2, timeout=5)
        assert isinstance(client, BaseRpcClient) and client.connected
        yield Blocking(client)
        client.close()


async def test_a_call_returns_the_methods_result(rpc):
    assert await rpc.call(echo({"a": [1, "b"]}), Caller("req-1", "testOperation")) == {"a": [1, "b"]}


async def test_the_request_id_reaches_the_worker(rpc):
    seen = await rpc.call(PROBE, Caller("req-abc", "getAirport"))
    assert seen["data"]["request_id"] == "req-abc"


async def test_a_service_that_is_not_running_is_unknown_at_once(rpc):
    start = time.monotonic()
    with pytest.raises(UnknownService):
        await rpc.call(RpcCall("ghost_service", "boo"), Caller("req-2", "testOperation"))
    assert time.monotonic() - start < 1.0


async def test_a_call_past_its_own_timeout_is_an_rpc_timeout(rpc):
    start = time.monotonic()
    with pytest.raises(RpcTimeout):
        await rpc.call(RpcCall(HUNG.service, HUNG.method, HUNG.kwargs, timeout=0.3), Caller("req-3", "testOperation"))
    assert 0.25 < time.monotonic() - start < 1.5
