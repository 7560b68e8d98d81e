"""The WSGI pool over two broker "nodes" (two TCP relays in front of the tests' broker,
tests/support/relay.py), with real `nameko run` workers behind: a node that goes silent (frozen,
cut off) or is killed while calls are in flight costs no call, no call answers later than its
timeout, and calls soon after are fast again."""

import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest

from gateway.rpc.asyncio_client import RESEND_EVERY
from gateway.rpc.blocking_node_watch import HEARD_RECENTLY, PROBE_INTERVAL, PROBE_TIMEOUT
from gateway.rpc.calls import Caller, NotConnected, RpcCall, RpcTimeout
from gateway.rpc.proxy_pool import CHECK_EVERY, ProxyPool
from tests.support.probe import HUNG, echo
from tests.support.relay import in_front_of_broker

CALLER = Caller("req-nodes", "testOperation")
TIMEOUT = 3.0  # RPC_TIMEOUT of these pools
SLACK = 0.15  # a thread's wake-up and the test's own bookkeeping
NOTICED = PROBE_INTERVAL + HEARD_RECENTLY + PROBE_TIMEOUT  # a silent node is down by then


@pytest.fixture
def relays():
    made = [in_front_of_broker() for _ in range(2)]
    yield made
    for relay in made:
        relay.close()


@pytest.fixture
def pool(services_on_vhost, relays):
    pools = []
    vhost = urllib.parse.quote(services_on_vhost.vhost, safe="")

    def make(nodes=(0, 1), **options):
        uri = ";".join(f"amqp://guest:guest@127.0.0.1:{relays[n].port}/{vhost}" for n in nodes)
        pools.append(ProxyPool({"AMQP_URI": uri}, timeout=TIMEOUT, **options))
        return pools[-1]

    yield make
    for made in pools:
        made.close()


def calls_through(rpc, fault, threads=8, seconds=7.0, fault_at=1.0):
    """Calls from `threads` threads for `seconds`, `fault()` made at `fault_at`: each call's
    (start, duration, outcome) relative to the fault, and the time the fault was made."""
    outcomes, start = [], time.monotonic()
    stop_at = start + seconds

    def work(n):
        i = 0
        while time.monotonic() < stop_at:
            began = time.monotonic()
            value = f"{n}.{i}"
            try:
                outcome = rpc.call(echo(value), CALLER) == value
            except Exception as exc:  # noqa: BLE001 - recorded, and the test fails on it
                outcome = exc
            outcomes.append((began, time.monotonic() - began, outcome))
            i += 1

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for thread in workers:
        thread.start()
    time.sleep(fault_at)
    faulted = time.monotonic()
    fault()
    for thread in workers:
        thread.join(seconds + TIMEOUT + 5)
    return [(began - faulted, took, outcome) for began, took, outcome in outcomes]


def check_no_call_lost(rpc, outcomes):
    failed = [outcome for outcome in outcomes if outcome[2] is not True]
    slowest = max(took for _, took, _ in outcomes)
    after = [took for began, took, _ in outcomes if began > 5.0]
    print(
        f"{len(outcomes)} calls, {len(failed)} failed, slowest {slowest:.2f}s, slowest 5 s after the"
        f" fault {max(after):.2f}s; {rpc.stats()}"
    )
    assert not failed, failed[:5]
    assert slowest < TIMEOUT + SLACK
    assert after and max(after) < 2.0
    # calls were in flight on the node that went, and each was answered through the other
    assert rpc.stats()["republished"] > 0


@pytest.mark.parametrize("fault", ["freeze", "cut", "close"])
def test_a_node_lost_under_load_costs_no_call(pool, relays, fault):
    rpc = pool(size=8)
    rpc.call(echo("warm"), CALLER)
    assert rpc.stats()["nodes_up"] == 2
    outcomes = calls_through(rpc, getattr(relays[0], fault))
    check_no_call_lost(rpc, outcomes)
    assert rpc.stats()["nodes_up"] == 1
    # no call after the node was noticed went to it
    assert all(took < 1.0 for began, took, _ in outcomes if began > NOTICED + 0.5)


def test_new_links_avoid_a_silent_node(pool, relays):
    relays[0].freeze()  # its port still accepts TCP connections: only a handshake tells
    rpc = pool(size=4)
    assert rpc.connected and rpc.stats()["nodes_up"] == 1
    started = time.monotonic()
    assert [rpc.call(echo(n), CALLER) for n in range(20)] == list(range(20))
    assert time.monotonic() - started < 2.0  # a call waiting on the frozen node would take 3 s
    relays[0].thaw()
    deadline = time.monotonic() + NOTICED + 1
    while rpc.stats()["nodes_up"] < 2:
        assert time.monotonic() < deadline, "the thawed node was not seen again"
        time.sleep(0.1)


def test_a_call_on_the_only_node_when_it_freezes_fails_once_it_is_noticed(pool, relays):
    rpc = pool(nodes=(0,), size=2)
    assert rpc.call(echo("warm"), CALLER) == "warm"
    relays[0].freeze()
    started = time.monotonic()
    with pytest.raises(NotConnected):  # sent, unanswered; its node went silent and no other is up
        rpc.call(echo("frozen"), CALLER)
    assert time.monotonic() - started < NOTICED + SLACK + CHECK_EVERY  # (a waiting call looks that often)
    assert not rpc.connected
    started = time.monotonic()
    with pytest.raises(NotConnected):  # a new call, with no node up: at once
        rpc.call(echo("later"), CALLER)
    assert time.monotonic() - started < 0.1
    relays[0].thaw()
    deadline = time.monotonic() + NOTICED + 1
    while not rpc.connected:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert rpc.call(echo("thawed"), CALLER) == "thawed"


def test_a_call_on_a_frozen_node_with_a_short_timeout_ends_at_its_timeout(pool, relays):
    """Frozen before the watch notices: the call's own reads are bounded by its deadline."""
    rpc = pool(nodes=(0,), size=1)
    assert rpc.call(echo("warm"), CALLER) == "warm"
    relays[0].freeze()
    started = time.monotonic()
    with pytest.raises(RpcTimeout):
        rpc.call(RpcCall(HUNG.service, HUNG.method, HUNG.kwargs, timeout=0.4), CALLER)
    assert 0.4 <= time.monotonic() - started < 0.4 + SLACK


def test_the_watch_asks_no_node_that_answers_calls(pool):
    rpc = pool(size=2)
    probes = rpc.stats()["probes"]
    stop_at = time.monotonic() + 4 * PROBE_INTERVAL
    while time.monotonic() < stop_at:  # calls on both nodes (links go to the node with the fewest)
        with ThreadPoolExecutor(2) as threads:
            list(threads.map(lambda n: rpc.call(echo(n), CALLER), range(2)))
    assert rpc.stats()["probes"] - probes <= 2  # (a round may start before the first calls)
    time.sleep(3 * PROBE_INTERVAL)  # idle: each node is asked every round
    assert rpc.stats()["probes"] - probes >= 4


def test_after_a_node_is_lost_unanswered_calls_are_sent_again(pool, relays):
    """The unsettled window: a call on a surviving link with no answer after RESEND_EVERY goes out
    again (same correlation id), on a publishing channel opened since; the first answer counts."""
    rpc = pool(size=1, nodes=(1, 0))  # its one link on relays[1]
    assert rpc.call(echo("warm"), CALLER) == "warm"
    time.sleep(RESEND_EVERY)  # the link's publishing channel is older than that now
    relays[0].close()  # a node is lost (one with no link of the pool's)
    deadline = time.monotonic() + NOTICED + 1
    while rpc.stats()["nodes_up"] == 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    slow = RpcCall(HUNG.service, HUNG.method, HUNG.kwargs, timeout=TIMEOUT + 2)
    assert rpc.call(slow, CALLER)["name"] == "late"  # 2 s: a copy went out at 1 s
    assert rpc.stats()["resent"] >= 1 and rpc.stats()["channels_renewed"] >= 1
    assert rpc.stats()["created"] == 1
    assert rpc.call(echo("after"), CALLER) == "after"


def test_calls_use_the_links_open_while_no_node_takes_new_connections(pool, relays):
    """RabbitMQ 3.10: while a node is frozen, the others take no new connection until the cluster
    notices (about 60 s), though their open connections answer. The pool makes no new link then,
    and its calls go on over the links it has on the other node."""
    rpc = pool(size=4)
    with ThreadPoolExecutor(4) as threads:  # links on both nodes (a new one goes where there are fewest)
        assert list(threads.map(lambda n: rpc.call(echo(n), CALLER), range(8))) == list(range(8))
    relays[1].stall_new()
    outcomes = calls_through(rpc, relays[0].freeze, threads=4, seconds=8.0)
    print(f"{len(outcomes)} calls; {rpc.stats()}")
    assert all(outcome is True for _, _, outcome in outcomes)
    assert max(took for _, took, _ in outcomes) < TIMEOUT + SLACK
    # after the node was noticed no call waited for a handshake: the watch's thread tries new links
    assert max(took for began, took, _ in outcomes if began > NOTICED + 0.5) < 1.0
