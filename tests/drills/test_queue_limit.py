"""The RPC queues' length limit (compose/k8s/rabbitmq/definitions.json: `max-length` with
`reject-publish`) on the real broker: a flood against a worker that cannot keep up is refused by
the broker, and both gateways answer 503 `overloaded` at once instead of waiting for a timeout."""

import json
import threading
import time
import uuid

import pytest

from devstack import rabbitmq
from devstack.http import Client
from tests.conftest import amqp_uri
from tests.support import broker
from tests.support.processes import ROOT

DEFINITIONS = json.loads((ROOT / "compose" / "k8s" / "rabbitmq" / "definitions.json").read_text())
SLOW = "/airports/" + "a" * 32
LIMIT = 10  # the shipped policy's 10000, made small enough to reach


def set_policy(vhost, policy, **overrides):
    definition = {**policy["definition"], **overrides}
    if rabbitmq.management_url():
        body = {key: policy[key] for key in ("pattern", "apply-to", "priority")} | {"definition": definition}
        rabbitmq.api("PUT", f"policies/{vhost}/{policy['name']}", body)
    else:
        rabbitmq.ctl(
            "set_policy", "-p", vhost, "--priority", str(policy["priority"]), "--apply-to", policy["apply-to"],
            policy["name"], policy["pattern"], json.dumps(definition),
        )  # fmt: skip


@pytest.fixture
def limited_vhost():
    """A vhost of its own, quorum by default, with the shipped policy but a length limit of LIMIT."""
    vhost = rabbitmq.create_vhost(f"travel-test-limit-{uuid.uuid4().hex[:8]}-{int(time.time())}", queue_type="quorum")
    try:
        (policy,) = [p for p in DEFINITIONS["policies"] if p["name"] == "rpc-requests"]
        set_policy(vhost, policy, **{"max-length": LIMIT})
        yield vhost
    finally:
        broker.delete_vhost(vhost)


def test_the_shipped_policy_limits_the_rpc_queues_and_dead_letters_poison_requests():
    (policy,) = [p for p in DEFINITIONS["policies"] if p["name"] == "rpc-requests"]
    assert policy["pattern"] == "^rpc-" and policy["apply-to"] == "queues"
    assert policy["definition"]["overflow"] == "reject-publish"
    assert policy["definition"]["max-length"] >= 1000
    assert 1 < policy["definition"]["delivery-limit"] <= 20
    exchange = policy["definition"]["dead-letter-exchange"]
    bound = [b["destination"] for b in DEFINITIONS["bindings"] if b["source"] == exchange]
    assert bound and all(q["name"] in bound for q in DEFINITIONS["queues"])
    (vhost,) = DEFINITIONS["vhosts"]
    assert vhost["metadata"]["default_queue_type"] == "quorum"


def test_a_flood_against_a_slow_worker_gets_fast_503_overloaded(drill_stack, limited_vhost):
    slow_worker = {"HANG_SECONDS": 1, "MAX_WORKERS": 1}  # one call at a time: the queue fills
    gateways = {"RPC_TIMEOUT": 20, "THREADS": 48, "RPC_MAX_IN_FLIGHT": 1024}  # no limit of their own in the way
    stack = drill_stack(
        amqp_uri(limited_vhost), modules=["tests.services.hung"], services=["airports_service"],
        worker_extra=slow_worker, gateways=("asgi", "wsgi"), gateway_extra=gateways,
    )  # fmt: skip
    for kind in ("asgi", "wsgi"):
        outcomes = flood(Client(stack.url(kind), timeout=30), 3 * LIMIT)
        refused = [o for o in outcomes if o.status == 503]
        assert len(refused) >= LIMIT, (kind, [o.describe() for o in outcomes])
        for outcome in refused:
            assert outcome.json()["type"].endswith(":overloaded"), outcome.describe()
            assert outcome.headers.get("retry-after") == "1"
            assert outcome.elapsed < 2.0, outcome.describe()  # the broker's nack, not a 20 s timeout
        assert not [o for o in outcomes if o.status not in (200, 503)], (kind, [o.describe() for o in outcomes])


def flood(client, count):
    """`count` requests for the slow airport at once: their outcomes."""
    outcomes, lock = [], threading.Lock()

    def one():
        outcome = client.get(SLOW)
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=one) for _ in range(count)]
    [thread.start() for thread in threads]
    [thread.join(60) for thread in threads]
    return outcomes
