"""The WSGI gateway's pool of blocking AMQP links, on the real broker and real services."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from gateway.rpc.calls import Caller, NotConnected, RpcCall, RpcTimeout
from gateway.rpc.proxy_pool import PoolExhausted, ProxyPool
from tests.support import broker
from tests.support.probe import HUNG, echo

CALLER = Caller("req-pool", "testOperation")


@pytest.fixture
def pool(services_on_vhost):
    pools = []

    def make(**options):
        pools.append(ProxyPool({"AMQP_URI": services_on_vhost.amqp}, **options))
        return pools[-1]

    yield make
    for made in pools:
        made.close()


def test_more_threads_than_proxies_share_them(pool):
    rpc = pool(size=4)

    def work(n):
        return [rpc.call(echo(f"{n}.{i}"), CALLER) for i in range(20)]

    with ThreadPoolExecutor(32) as threads:
        results = list(threads.map(work, range(32)))
    assert results == [[f"{n}.{i}" for i in range(20)] for n in range(32)]
    assert rpc.stats()["created"] <= 4 and rpc.stats()["members"] <= 4


def test_a_checkout_that_waits_too_long_is_refused(pool):
    rpc = pool(size=1, checkout_timeout=0.2)
    busy = threading.Thread(target=rpc.call, args=(HUNG, CALLER))
    busy.start()
    time.sleep(0.3)
    start = time.monotonic()
    with pytest.raises(PoolExhausted):
        rpc.call(echo(1), CALLER)
    assert 0.15 < time.monotonic() - start < 0.8
    busy.join(10)
    assert rpc.call(echo(2), CALLER) == 2


def test_just_after_a_node_is_lost_a_call_waits_for_a_link_until_its_deadline(pool):
    """The links left are few and slow while a quorum queue elects its leader: not an overload."""
    rpc = pool(size=1, checkout_timeout=0.2)
    hung = RpcCall(HUNG.service, HUNG.method, HUNG.kwargs, timeout=1.0)
    busy = threading.Thread(target=pytest.raises, args=(RpcTimeout, rpc.call, hung, CALLER))
    busy.start()
    time.sleep(0.3)
    rpc._unsettle()  # what a node found silent or lost does
    start = time.monotonic()
    assert rpc.call(echo(1), CALLER) == 1
    assert 0.5 < time.monotonic() - start < 3
    busy.join(10)


def test_a_renewed_publishing_channel_is_closed_without_waiting_and_freed_later(pool):
    """RabbitMQ can take seconds to close a channel whose quorum queue leader froze: a renewal must
    not wait for it (proxy_pool's copies renew channels)."""
    rpc = pool(size=1)
    assert rpc.call(echo(0), CALLER) == 0
    link = rpc.links.checkout(time.monotonic() + 5)
    retired = []
    try:
        for _ in range(20):
            retired.append(link.publish_channel)
            link.renew_publish_channel()
            assert retired[-1].is_closing and retired[-1].channel_id in link.connection.channels  # not awaited
    finally:
        rpc.links.checkin(link)
    assert [rpc.call(echo(n), CALLER) for n in range(3)] == [0, 1, 2]
    assert all(channel.channel_id is None for channel in retired)  # each Close-Ok read with the replies
    assert len(link.connection.channels) == 3  # the connection's own, the consumer's, the publisher's
    assert rpc.stats()["created"] == 1


def test_a_timed_out_call_leaves_its_link_usable(pool):
    """Replies are matched by correlation id: the late one is dropped, not taken for another's."""
    rpc = pool(size=1, timeout=0.3)
    assert rpc.call(echo(1), CALLER) == 1
    with pytest.raises(RpcTimeout):
        rpc.call(HUNG, CALLER)
    assert rpc.call(echo(2), CALLER) == 2
    time.sleep(2)  # the hung call's reply arrives meanwhile
    assert rpc.call(echo(3), CALLER) == 3
    assert rpc.stats()["created"] == 1 and rpc.stats()["stopped"] == 0


def test_a_per_call_timeout_applies_to_that_call_only(pool):
    rpc = pool(size=1, timeout=10)
    start = time.monotonic()
    with pytest.raises(RpcTimeout):
        rpc.call(RpcCall("airports_service", "get", {"airport_id": "a" * 32}, timeout=0.3), CALLER)
    assert time.monotonic() - start < 1.5
    assert rpc.call(echo(3), CALLER) == 3


def test_late_replies_never_answer_another_call(pool):
    rpc = pool(size=2, timeout=5)
    hung = RpcCall(HUNG.service, HUNG.method, HUNG.kwargs, timeout=0.3)

    def work(n):
        call = hung if n % 5 == 0 else echo(n)
        try:
            return rpc.call(call, CALLER)
        except RpcTimeout:
            return "timeout"

    with ThreadPoolExecutor(4) as threads:
        outcomes = list(threads.map(work, range(60)))
    assert outcomes == ["timeout" if n % 5 == 0 else n for n in range(60)]
    assert rpc.stats()["created"] <= 2


def test_a_node_found_down_drops_the_idle_links(pool):
    """Whoever finds it first, the watch or a request, the links kept idle on a node that does not
    answer are dropped, not handed out; and with no node up, calls fail at once."""
    rpc = pool(size=2)
    assert rpc.call(echo("warm"), CALLER) == "warm"
    assert rpc.stats()["idle"] == 1
    rpc.watch.saw_down(0)
    assert rpc.stats()["idle"] == 0 and not rpc.connected
    with pytest.raises(NotConnected):
        rpc.call(echo("down"), CALLER)


def test_a_broker_dropping_every_connection_while_warm(pool, services_on_vhost):
    rpc = pool(size=4, timeout=2)
    with ThreadPoolExecutor(4) as threads:
        list(threads.map(lambda n: rpc.call(echo(n), CALLER), range(16)))
    broker.close_connections(services_on_vhost.vhost)  # clients and the service alike, as a broker restart would
    failures, deadline = [], time.monotonic() + 15
    while True:
        try:
            assert rpc.call(echo("back"), CALLER) == "back"
            break
        except (NotConnected, RpcTimeout) as exc:  # 503 and 504 while it recovers, nothing else
            failures.append(exc)
            assert time.monotonic() < deadline, failures
            time.sleep(0.2)
    with ThreadPoolExecutor(4) as threads:
        assert list(threads.map(lambda n: rpc.call(echo(n), CALLER), range(16))) == list(range(16))


def test_a_thousand_recycles_leak_no_connection(pool, services_on_vhost):
    baseline = len(broker.connections(services_on_vhost.vhost))
    rpc = pool(size=2, max_age=1e-9)  # every proxy is recycled after its one call
    with ThreadPoolExecutor(2) as threads:
        assert list(threads.map(lambda n: rpc.call(echo(n), CALLER), range(1000))) == list(range(1000))
    assert rpc.stats()["created"] >= 999 and rpc.stats()["stopped"] >= 998
    rpc.close()
    time.sleep(1)
    assert len(broker.connections(services_on_vhost.vhost)) == baseline
