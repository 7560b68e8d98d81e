"""A broker node that goes silent (frozen, or cut off: sockets open, nothing answers) under a real
`nameko run`: two relays in front of the machine's broker are the two nodes of its AMQP_URI; the
one the workers use goes silent, and calls made straight to the broker are answered again within
seconds, trips_service's calls to airports_service included."""

import contextlib
import time
import urllib.parse
from types import SimpleNamespace

import pytest

from devstack.layout import SERVICE_NAMES, WORKER_MODULES
from devstack.processes import cluster_rpc, wait_for_services
from tests.support.broker import consumer_priorities
from tests.support.processes import nameko_run, worker_env
from tests.support.relay import in_front_of_broker
from tests.support.servers import REDIS_URI, amqp_uri
from workers.runtime import failover
from workers.runtime.nodes import Nodes, node_failed, nodes_of

pytestmark = pytest.mark.long  # scripts/test --long

NOTICED_WITHIN = 5.0  # seconds from the silence to the workers consuming through the other node
# the broker itself drops the silent node's consumers only after missing the workers' heartbeats
# (2 to 3 intervals of 2 s): calls it handed them meanwhile wait until then
ALL_ANSWERED_AFTER = 7.0
CALL_TIMEOUT = 1.0


@pytest.fixture
def nodes():
    relays = [in_front_of_broker() for _ in range(2)]
    yield relays
    for relay in relays:
        relay.close()


@pytest.fixture
def workers_on_nodes(nodes, fresh_vhost, prefix):
    """The three services in one `nameko run` whose AMQP_URI lists the two relays."""
    direct = amqp_uri(fresh_vhost)
    through = [urllib.parse.urlsplit(direct)._replace(netloc=f"guest:guest@127.0.0.1:{r.port}") for r in nodes]
    env = worker_env(";".join(u.geturl() for u in through), REDIS_URI, prefix)
    process = nameko_run(env, modules=WORKER_MODULES, name="workers-on-relays")
    try:
        wait_for_services(direct, SERVICE_NAMES, [process])
        yield direct, process
    finally:
        process.kill()
        process.close()


@pytest.fixture
def stack():
    with contextlib.ExitStack() as made:
        yield made


def the_node_in_use(nodes):
    [used] = [relay for relay in nodes if relay.connections]  # one process: every connection on one node
    return used


def calls_after_silence(rpc, trip_ends, seconds):
    """Calls through `rpc` (a greeting, a trip create: airports_service's hold through
    trips_service's proxy) for `seconds`: [(sent, answered or None, method)], times from the start."""
    start = time.monotonic()
    outcomes = []
    while time.monotonic() - start < seconds:
        for method, call in (
            ("hello", lambda: rpc.greeting_service.hello(name="x")),
            ("trip", lambda: rpc.trips_service.create(**trip_ends)),
        ):
            sent = time.monotonic() - start
            try:
                call()
                outcomes.append((sent, time.monotonic() - start, method))
            except Exception:
                outcomes.append((sent, None, method))
    return outcomes


@pytest.mark.parametrize("silence", ["freeze", "cut"])
def test_a_silent_node_is_left_for_the_other_within_seconds(nodes, workers_on_nodes, silence, stack):
    direct, process = workers_on_nodes
    rpc = stack.enter_context(cluster_rpc(direct, timeout=CALL_TIMEOUT))
    ends = [rpc.airports_service.create(name=f"Silent {n}")["id"] for n in range(2)]
    trip_ends = {"airport_from": ends[0], "airport_to": ends[1]}
    used = the_node_in_use(nodes)
    other = next(relay for relay in nodes if relay is not used)

    getattr(used, silence)()
    silent_at = time.monotonic()
    outcomes = calls_after_silence(rpc, trip_ends, ALL_ANSWERED_AFTER + 3)
    first_answer = min((answered for _, answered, _ in outcomes if answered is not None), default=None)
    late = [o for o in outcomes if o[0] >= ALL_ANSWERED_AFTER and (o[1] is None or o[1] - o[0] > CALL_TIMEOUT)]
    assert first_answer is not None and first_answer <= NOTICED_WITHIN, (outcomes, process.output(3000))
    assert other.connections, "the workers did not move to the other node"
    assert not late, (late, process.output(3000))
    assert {method for sent, _, method in outcomes if sent >= ALL_ANSWERED_AFTER} == {"hello", "trip"}
    if silence == "freeze":  # and once the new consumers' priority is over, the same
        vhost = urllib.parse.urlsplit(direct).path.lstrip("/")
        time.sleep(max(0.0, NOTICED_WITHIN + failover.PRIORITY_WINDOW + 1 - (time.monotonic() - silent_at)))
        services = [row for row in consumer_priorities(vhost) if row[0].startswith("rpc-") and "reply" not in row[0]]
        assert services and {priority for _, priority in services} == {None}, services
        assert not [o for o in calls_after_silence(rpc, trip_ends, 1) if o[1] is None], process.output(3000)


@pytest.mark.fast
def test_each_process_starts_at_a_random_node_and_a_failed_one_goes_last():
    uri = "amqp://a:p@n1/v;amqp://a:p@n2/v;amqp://a:p@n3/v"
    firsts = {Nodes(uri).uris[0] for _ in range(60)}
    assert firsts == set(uri.split(";"))  # every node is someone's first
    config = {"AMQP_URI": uri}
    first, *others = nodes_of(config).uris
    assert config["AMQP_URI"] == nodes_of(config).uri  # the order every connection of the process takes
    node_failed(config, first)
    assert nodes_of(config).uris == [*others, first] and config["AMQP_URI"].endswith(first)
    assert nodes_of({"AMQP_URI": config["AMQP_URI"]}) is nodes_of(config)  # one order per process
    single = {"AMQP_URI": "amqp://a:p@n1/v"}
    node_failed(single, "amqp://a:p@n1/v")
    assert single["AMQP_URI"] == "amqp://a:p@n1/v"


@pytest.mark.fast
def test_a_connection_is_silent_after_one_and_a_half_heartbeats_without_a_frame(monkeypatch):
    connection = SimpleNamespace(heartbeat=2, bytes_recv=10)
    now = [100.0]
    monkeypatch.setattr(failover.time, "monotonic", lambda: now[0])
    silence = failover.Silence(connection)
    assert silence.turn == 0.5 and silence.limit == 3.0
    now[0] += 2.9
    silence.check()  # quiet, not silent yet
    connection.bytes_recv += 1  # a heartbeat came in, and then nothing for a turn
    now[0] += 0.5
    silence.check()  # heard last a turn ago
    now[0] += 2.4
    silence.check()
    now[0] += 0.2
    with pytest.raises(failover.NodeSilent):
        silence.check()
    assert failover.Silence(SimpleNamespace(heartbeat=0, bytes_recv=0)).limit == 0  # no heartbeat: no check
