"""The asyncio nameko client on the real broker, against real `nameko run` services."""

import asyncio
import dataclasses
import time
import uuid

import orjson
import pytest
from kombu import Connection, Exchange, Queue
from nameko.standalone.rpc import ClusterRpcProxy

from devstack.processes import wait_for_services
from gateway.rpc.amqp import CHANNEL_MAX
from gateway.rpc.asyncio_client import AsyncRpcClient, backoff
from gateway.rpc.calls import Caller, NotConnected, Overloaded, RpcCall, RpcTimeout, UnknownService
from tests.support import broker
from tests.support.probe import HUNG, echo
from tests.support.processes import nameko_run, worker_env
from tests.support.relay import in_front_of_broker
from tests.support.servers import amqp_uri

CALLER = Caller("req-test", "testOperation")


@pytest.fixture
async def client(services_on_vhost):
    clients = []

    async def make(**options):
        rpc = AsyncRpcClient(services_on_vhost.amqp, connection_name="travel-test-client", **options)
        clients.append(rpc)
        await rpc.start()
        assert await rpc.wait_connected(5)
        return rpc

    yield make
    for rpc in clients:
        await rpc.close()


class SilentService:
    """A service whose queue exists but that never answers by itself: the test plays its worker,
    to see each copy of a request the client sends, and to answer one."""

    def __init__(self, amqp):
        self.name = f"silent_{uuid.uuid4().hex[:8]}_service"
        self.connection = Connection(amqp)
        self.exchange = Exchange("nameko-rpc", type="topic", durable=True)
        queue = Queue(f"rpc-{self.name}", self.exchange, routing_key=f"{self.name}.*", durable=True)
        self.queue = queue(self.connection.default_channel)
        self.queue.declare()

    def call(self):
        return RpcCall(self.name, "work")

    def receive(self, within=3.0):
        """The next request delivered to the service, taken off its queue."""
        deadline = time.monotonic() + within
        while (message := self.queue.get(no_ack=True)) is None:
            assert time.monotonic() < deadline, f"no request reached {self.name} in {within} s"
            time.sleep(0.02)
        return message

    def answer(self, request, result):
        producer = self.connection.Producer()
        producer.publish(
            orjson.dumps({"result": result, "error": None}),
            exchange=self.exchange,
            routing_key=request.properties["reply_to"],
            correlation_id=request.properties["correlation_id"],
            content_type="application/json",
            content_encoding="utf-8",
        )

    def close(self):
        self.queue.delete()
        self.connection.release()


async def all_links_up(rpc, within=5.0):
    """wait_connected waits for one link; the others connect in the background."""
    deadline = time.monotonic() + within
    while not all(link.usable for link in rpc.links):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


@pytest.fixture
def relay():
    """relay(): a new Relay in front of the machine's broker, as a node that can go silent."""
    made = []

    def make():
        made.append(in_front_of_broker())
        return made[-1]

    yield make
    for each in made:
        each.close()


@pytest.fixture
def silent(services_on_vhost):
    service = SilentService(services_on_vhost.amqp)
    yield service
    service.close()


async def test_a_thousand_concurrent_calls_over_one_connection(client):
    rpc = await client(connections=1)
    results = await asyncio.gather(*(rpc.call(echo(i), CALLER) for i in range(1000)))
    assert results == list(range(1000))
    assert rpc.stats()["pending"] == 0 and rpc.stats()["in_flight"] == 0
    assert rpc.connections_made == 1


async def test_the_call_id_stack_reaches_the_worker(client):
    rpc = await client()
    seen = await rpc.call(RpcCall("probe_service", "context"), Caller("req-abc", "getAirport"))
    parent, own = seen["call_id_stack"]
    assert parent.startswith("gateway.getAirport.") and own.startswith("probe_service.context.")


async def test_a_timeout_ends_the_call_and_the_late_reply_is_dropped(client):
    rpc = await client(timeout=0.3)
    start = time.monotonic()
    with pytest.raises(RpcTimeout):
        await rpc.call(HUNG, CALLER)
    assert 0.25 < time.monotonic() - start < 1.0
    assert rpc.stats()["pending"] == 0
    deadline = time.monotonic() + 5
    while rpc.late_replies == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert rpc.late_replies == 1
    assert rpc.stats()["pending"] == 0


async def test_calls_beyond_the_in_flight_bound_are_refused_at_once(client):
    rpc = await client(max_in_flight=2, timeout=5)
    waiting = [asyncio.ensure_future(rpc.call(HUNG, CALLER)) for _ in range(2)]
    await asyncio.sleep(0.1)
    with pytest.raises(Overloaded):
        await rpc.call(echo(1), CALLER)
    await asyncio.gather(*waiting)
    assert await rpc.call(echo(2), CALLER) == 2


async def test_a_lost_connection_republishes_pending_calls_once_it_reconnects(client, services_on_vhost):
    rpc = await client(connections=1, timeout=10)
    pending = asyncio.ensure_future(rpc.call(HUNG, CALLER))  # answered after 2 s
    await asyncio.sleep(0.2)
    # dropped at once (rabbitmqctl close_connection can take longer than the call under load)
    rpc.links[0].connection.transport.abort()
    # its only link is gone: the call waits for the reconnection, then goes out again
    assert (await pending)["name"] == "late"
    assert rpc.stats()["republished"] == 1
    assert await rpc.call(echo("again"), CALLER) == "again"
    assert rpc.connections_made == 2
    assert rpc.stats()["pending"] == 0


async def test_calls_use_the_first_link_and_a_standby_takes_over_at_once(client):
    rpc = await client(connections=2)
    first, standby = rpc.links
    assert await all_links_up(rpc)
    hung = [asyncio.ensure_future(rpc.call(HUNG, CALLER)) for _ in range(2)]
    await asyncio.sleep(0.1)
    assert (len(first.pending), len(standby.pending)) == (2, 0)  # not spread over the links
    first.connection.transport.abort()  # the first connection drops, as on a network failure
    await asyncio.sleep(0)
    assert len(standby.pending) == 2  # republished on the standby at once, same correlation ids
    call = asyncio.ensure_future(rpc.call(echo("at once"), CALLER))
    await asyncio.sleep(0)  # published: on the standby, without waiting for a reconnection
    assert not first.usable and len(standby.pending) == 3
    assert await call == "at once"
    assert [(await call)["name"] for call in hung] == ["late", "late"]
    assert rpc.stats()["republished"] == 2


async def test_once_a_link_is_lost_a_call_unanswered_on_another_goes_out_again(client, silent):
    # The node of the lost link may also have held the call's queue leader (the broker drops a
    # request while a new one is elected) or the connection its worker replied on.
    rpc = await client(connections=2, timeout=6)
    first, standby = rpc.links
    assert await all_links_up(rpc)
    call = asyncio.ensure_future(rpc.call(silent.call(), CALLER))
    request = await asyncio.to_thread(silent.receive)  # taken, and never answered: as if lost
    assert not rpc.stats()["unsettled"]
    standby.connection.transport.abort()
    await asyncio.sleep(0)
    assert rpc.stats()["unsettled"] and len(first.pending) == 1  # its own link is up
    lost_at = time.monotonic()
    copy = await asyncio.to_thread(silent.receive)
    assert 0.9 < time.monotonic() - lost_at < 2.0  # RESEND_EVERY after the loss
    assert copy.properties["correlation_id"] == request.properties["correlation_id"]
    # on a channel opened for it: the first may still send to a dead queue leader
    assert first.connection.publish_channel != 1 and rpc.stats()["channels_renewed"] >= 1  # the standby too, if
    # it reconnected more than RESEND_EVERY before the round
    copied_at = time.monotonic()
    second = await asyncio.to_thread(silent.receive)  # unanswered: again, after as long, not twice as long
    assert 0.8 < time.monotonic() - copied_at < 1.6
    assert second.properties["correlation_id"] == request.properties["correlation_id"]
    silent.answer(second, "answered")
    assert await call == "answered"
    assert rpc.stats()["resent"] == 2 and rpc.stats()["pending"] == 0
    assert await rpc.call(echo("after"), CALLER) == "after"  # new calls go out on it too


async def test_calls_and_returns_go_on_over_renewed_publishing_channels(client):
    rpc = await client(connections=1)
    connection = rpc.links[0].connection
    for n in range(CHANNEL_MAX + 2):  # past the last channel number, and round again
        connection.renew_publish_channel()
        if n % 7 == 0:
            connection.renew_publish_channel()  # twice in one turn of the loop
        assert await rpc.call(echo(n), CALLER) == n
    with pytest.raises(UnknownService):  # a mandatory publish returned on a renewed channel
        await rpc.call(RpcCall("ghost_service", "boo"), CALLER)
    assert connection.usable and rpc.connections_made == 1
    assert connection.publish_channel not in (1, CHANNEL_MAX + 1)


async def test_while_no_node_is_lost_an_unanswered_call_goes_out_once(client, silent):
    rpc = await client(timeout=2.5)
    call = asyncio.ensure_future(rpc.call(silent.call(), CALLER))
    await asyncio.to_thread(silent.receive)
    await asyncio.sleep(1.8)  # past RESEND_EVERY: a slow call is not sent twice to a busy service
    assert silent.queue.get(no_ack=True) is None
    with pytest.raises(RpcTimeout):
        await call
    assert rpc.stats()["resent"] == 0 and not rpc.stats()["unsettled"]


async def test_a_frozen_node_no_link_is_on_sends_unanswered_calls_again(services_on_vhost, silent, relay):
    # A node no link is on can still take calls with it (a queue's leader, a worker's replies):
    # the client keeps a watch connection to every node.
    frozen = relay()
    rpc = AsyncRpcClient(f"{services_on_vhost.amqp};{frozen.uri(services_on_vhost.vhost)}", connections=1, timeout=8)
    await rpc.start()
    try:
        assert await rpc.wait_connected(5) and rpc.links[0].node == 0
        call = asyncio.ensure_future(rpc.call(silent.call(), CALLER))
        request = await asyncio.to_thread(silent.receive)
        await asyncio.sleep(0.5)
        assert not rpc.stats()["unsettled"]
        frozen.freeze()
        started = time.monotonic()
        copy = await asyncio.to_thread(silent.receive, 5)
        assert copy.properties["correlation_id"] == request.properties["correlation_id"]
        assert rpc.stats()["unsettled"] and not rpc.node_up(1)
        assert time.monotonic() - started < 4  # noticed in ~2 s, the copy 1 s later
        silent.answer(copy, "answered")
        assert await call == "answered"
        frozen.thaw()
        await asyncio.sleep(2)
        assert rpc.node_up(1)
    finally:
        await rpc.close()


@pytest.mark.parametrize("fault", ["freeze", "cut"])
async def test_the_links_on_a_silent_node_are_dropped_and_their_calls_answered_elsewhere(
    services_on_vhost, relay, fault
):
    first, second = relay(), relay()
    amqp = f"{first.uri(services_on_vhost.vhost)};{second.uri(services_on_vhost.vhost)}"
    rpc = AsyncRpcClient(amqp, connections=2, timeout=8)
    await rpc.start()
    try:
        assert await rpc.wait_connected(5)
        await asyncio.sleep(0.5)  # both links up, one on each node
        assert await rpc.call(echo(0), CALLER) == 0
        getattr(first, fault)()
        started = time.monotonic()
        answers = await asyncio.gather(*(rpc.call(echo(n), CALLER) for n in range(20)))
        assert answers == list(range(20))
        assert time.monotonic() - started < 4.5  # not the 8 s timeout: noticed in ~2 s, republished
        assert not rpc.node_up(0) and all(link.node == 1 for link in rpc.links if link.usable)
        quick = time.monotonic()
        assert await rpc.call(echo(99), CALLER) == 99
        assert time.monotonic() - quick < 0.5
        first.thaw()  # what the frozen node held goes through: the workers answer it again, and
        await asyncio.sleep(2)  # the client drops the late copies
        assert rpc.node_up(0) and rpc.stats()["pending"] == 0
    finally:
        await rpc.close()


async def test_a_watch_callback_that_fails_does_not_stop_the_watch(services_on_vhost, relay, caplog):
    watched = relay()
    calls = []

    def down(index):
        calls.append(index)
        raise RuntimeError("a bug in a callback")

    from gateway.rpc.amqp import AmqpParams
    from gateway.rpc.node_watch import NodeWatch

    watch = NodeWatch([AmqpParams.from_uri(watched.uri(services_on_vhost.vhost))], down, lambda index: None)
    watch.start()
    try:
        await asyncio.sleep(0.5)
        watched.freeze()
        await asyncio.sleep(3)
        assert calls == [0] and "a bug in a callback" in caplog.text and not watch.up[0]
        watched.thaw()
        await asyncio.sleep(2)
        assert watch.up[0]
    finally:
        await watch.close()


async def test_a_lost_call_waits_for_a_link_no_longer_than_its_timeout(client, services_on_vhost):
    rpc = await client(connections=1, timeout=1)
    rpc.links[0].node = 0
    pending = asyncio.ensure_future(rpc.call(HUNG, CALLER))
    await asyncio.sleep(0.1)
    rpc.nodes[0] = dataclasses.replace(rpc.nodes[0], port=1)  # nowhere to reconnect to
    rpc.links[0].connection.transport.abort()
    start = time.monotonic()
    with pytest.raises(RpcTimeout):
        await pending
    assert time.monotonic() - start < 1.2
    assert rpc.stats()["pending"] == 0


async def test_without_a_broker_calls_fail_fast():
    rpc = AsyncRpcClient("amqp://guest:guest@127.0.0.1:1/")
    await rpc.start()
    try:
        start = time.monotonic()
        with pytest.raises(NotConnected):
            await rpc.call(echo(1), CALLER)
        assert time.monotonic() - start < 0.1
    finally:
        await rpc.close()


async def test_many_timeouts_leave_no_pending_calls_behind(client):
    rpc = await client(timeout=0.2)
    outcomes = await asyncio.gather(*(rpc.call(HUNG, CALLER) for _ in range(200)), return_exceptions=True)
    assert all(isinstance(o, RpcTimeout) for o in outcomes)
    assert rpc.stats()["pending"] == 0 and rpc.stats()["in_flight"] == 0
    assert all(not link.pending for link in rpc.links)


async def test_unmodified_nameko_services_and_proxies_work_beside_it(fresh_vhost):
    amqp = amqp_uri(fresh_vhost)
    rpc = AsyncRpcClient(amqp)  # first on the vhost: it declares the exchange before nameko does
    await rpc.start()
    process = None
    try:
        assert await rpc.wait_connected(5)
        process = nameko_run(
            worker_env(amqp, "redis://unused", "unused:"), modules=["tests.services.probe"], name="probe"
        )
        await asyncio.to_thread(wait_for_services, amqp, ["probe_service"], [process])
        assert await rpc.call(echo("ours"), CALLER) == "ours"
        with ClusterRpcProxy({"AMQP_URI": amqp}, timeout=5) as proxy:
            assert proxy.probe_service.echo(value="nameko's") == "nameko's"
    finally:
        await rpc.close()
        if process:
            process.close()


async def test_a_request_nobody_took_in_time_expires_in_the_queue(client, services_on_vhost):
    # A service whose queue exists but has no worker: the request waits there. Once its caller
    # has timed out the broker drops it, so a worker starting later does not run it for nobody.
    with Connection(services_on_vhost.amqp) as connection:
        Queue(
            "rpc-sleeper_service",
            Exchange("nameko-rpc", type="topic", durable=True),
            routing_key="sleeper_service.*",
            durable=True,
        )(connection.default_channel).declare()
    rpc = await client(timeout=0.3)
    with pytest.raises(RpcTimeout):
        await rpc.call(RpcCall("sleeper_service", "work"), CALLER)
    deadline = time.monotonic() + 5
    while (await asyncio.to_thread(broker.queue_messages, services_on_vhost.vhost)).get("rpc-sleeper_service") != 0:
        assert time.monotonic() < deadline, "the expired request is still queued"
        await asyncio.sleep(0.2)


async def test_an_idle_healthy_connection_is_kept_across_heartbeats(client):
    rpc = await client(connections=1, heartbeat=1)  # heartbeats every half second both ways
    await asyncio.sleep(6)
    assert rpc.connections_made == 1 and rpc.connected
    assert await rpc.call(echo("still here"), CALLER) == "still here"


def test_reconnection_backoff_stays_bounded():
    assert all(0 < backoff(attempt) <= 5.0 for attempt in (1, 2, 10, 16, 1025, 10**6))
    assert backoff(1) <= 0.1
