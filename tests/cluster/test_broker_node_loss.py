"""A 3-node RabbitMQ cluster with quorum queues under the whole stack: each node killed (-9) in
turn under load costs no request; a quorum queue without its majority fails calls fast and cleanly,
and everything serves again once the nodes are back. One cluster and one stack for the session."""

import collections
import time
import uuid

import pytest

from devstack.http import Client
from drills.broker_node_loss import broker_node_loss
from drills.scenarios import _walk

pytestmark = pytest.mark.cluster


def test_the_workers_queues_are_quorum_queues(rabbit_cluster, cluster_vhost, cluster_gateway):
    columns = ("name", "type", "durable", "exclusive", "arguments")
    queues = {q["name"]: q for q in rabbit_cluster.queues(*columns, vhost=cluster_vhost)}
    for service in ("airports_service", "trips_service", "greeting_service"):
        assert queues[f"rpc-{service}"]["type"] == "quorum", queues
    # nameko 2.14's own reply queues are durable with x-expires, so the vhost would make them quorum
    # queues; trips_service's proxy declares its own exclusive (workers/runtime/proxy.py), classic, as
    # the ASGI gateway's are
    replies = [q for name, q in queues.items() if name.startswith("rpc.reply-trips_service-")]
    assert replies and all(q["type"] == "classic" and q["exclusive"] for q in replies)
    gateway = [q for name, q in queues.items() if name.startswith("rpc.reply-gateway-")]
    assert gateway and all(q["type"] == "classic" and q["exclusive"] for q in gateway)


@pytest.mark.timeout(420)
@pytest.mark.parametrize("gateway", ["cluster_gateway", "cluster_wsgi_gateway"])
def test_killing_each_node_in_turn_under_load_costs_no_request(rabbit_cluster, cluster_stack, gateway, request):
    """Both gateways: a call pending on a lost node goes out again, same correlation id, on another."""
    url = request.getfixturevalue(gateway)
    restored, synced = [], []

    def restore(index):
        def run():
            started = time.monotonic()
            rabbit_cluster.restart(index)  # boots it on its data; it rejoins by itself
            restored.append(time.monotonic() - started)
            # as an operator would before the next node goes: every quorum queue has its members back
            synced.append(rabbit_cluster.wait_quorum_safe())

        return run

    faults = [((lambda i=i: rabbit_cluster.kill(i)), restore(i)) for i in range(3)]
    # No 500, no request without an answer, no record lost or doubled, p99 within 2 s in the 5 s
    # after each kill, the nodes back; up to 3 % clean 503/504 problems (the drill, `python -m
    # drills`, allows none). The stall that made CI miss the 2 s was the workers' consumer waiting
    # for a worker slot while the busy workers waited for the replies it reads (container.py).
    report = broker_node_loss([url], faults, concurrency=32, max_failed_share=0.03)
    print(
        report,
        f"\n  nodes back and running in {', '.join(f'{s:.1f}s' for s in restored)},"
        f" their queues in sync {', '.join(f'{s:.1f}s' for s in synced)} later",
    )
    assert report.passed, str(report)
    assert report.stats["requests"] > 1000
    assert sorted(rabbit_cluster.running_nodes()) == sorted(n.name for n in rabbit_cluster.nodes)
    # nothing was restarted by hand: the same worker and gateway processes served throughout
    assert all(process.running() for process in cluster_stack.processes)


@pytest.mark.timeout(300)
def test_a_quorum_queue_without_its_majority_fails_calls_fast_and_recovers(rabbit_cluster, cluster_stack):
    """Two of three nodes down: the queues have no leader, so no call can be delivered. Callers get
    a 504 within RPC_TIMEOUT (or a 503 when the gateway has no link), never a hang, and readiness
    says 503. Nothing is half-written: every write is one Lua script, and a create retried with its
    Idempotency-Key after recovery gives one record. Once the nodes are back, everything serves."""
    url = cluster_stack.add_gateway("asgi", RPC_TIMEOUT=3).url
    client = Client(url, timeout=30)
    run = uuid.uuid4().hex[:8]
    seed = client.post("/airports", {"name": f"majority-{run}-seed"})
    assert seed.status == 201, seed.describe()
    seed_id = seed.json()["id"]

    rabbit_cluster.kill(1)
    rabbit_cluster.kill(2)
    down_at, outcomes, keys = time.monotonic(), [], []
    try:
        while time.monotonic() - down_at < 8:
            key = f"{run}-{len(keys)}"
            keys.append(key)
            outcomes.append(
                client.post("/airports", {"name": f"majority-{run}-{key}"}, headers={"Idempotency-Key": key})
            )
            outcomes.append(client.get(f"/airports/{seed_id}"))
        ready = client.get("/health/ready")
    finally:
        for index in (1, 2):
            rabbit_cluster.nodes[index].launch()
        for index in (1, 2):
            rabbit_cluster.nodes[index].wait_started()
        rabbit_cluster.wait_running(timeout=120)
    statuses = collections.Counter(o.status for o in outcomes)
    print(f"while 2 of 3 nodes were down: {dict(statuses)}, slowest {max(o.elapsed for o in outcomes):.2f}s")
    assert ready.status == 503, ready.describe()
    for outcome in outcomes:  # answered as the first run would have (some reads may have got through)
        assert outcome.status in (200, 201, 503, 504), outcome.describe()
        assert outcome.elapsed < 3 + 1.5, outcome.describe()
    assert statuses[503] + statuses[504] > 0

    recovered_at = time.monotonic()
    while not (client.get(f"/airports/{seed_id}").status == 200 and client.get("/health/ready").status == 200):
        assert time.monotonic() - recovered_at < 60, client.get("/health/ready").describe()
        time.sleep(0.5)
    print(f"serving again {time.monotonic() - recovered_at:.1f}s after the nodes were back")
    for key in keys:  # the retries every client should make: one record per key, whatever happened
        again = client.post("/airports", {"name": f"majority-{run}-{key}"}, headers={"Idempotency-Key": key})
        assert again.status == 201, again.describe()
    names = collections.Counter(
        a["name"] for a in _walk(client, "/airports") if a["name"].startswith(f"majority-{run}-")
    )
    assert set(names) == {f"majority-{run}-seed", *(f"majority-{run}-{key}" for key in keys)}
    assert set(names.values()) == {1}
