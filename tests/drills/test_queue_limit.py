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
from tests.support import broker
from tests.support.processes import ROOT
from tests.support.servers import amqp_uri

pytestmark = pytest.mark.long  # scripts/test --long

DEFINITIONS = json.loads((ROOT / "compose" / "k8s" / "rabbitmq" / "definitions.json").read_text())
SLOW = "/airports/" + "a" * 32
LIMIT = 20  # the shipped policy's 10000, made small enough to reach


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
    slow_worker = {"HANG_SECONDS": 0.25, "MAX_WORKERS": 1}  # one call at a time: the queue fills
    gateways = {"RPC_TIMEOUT": 30, "THREADS": 64, "RPC_MAX_IN_FLIGHT": 1024}  # no limit of their own in the way
    stack = drill_stack(
        amqp_uri(limited_vhost), modules=["tests.services.hung"], services=["airports_service"],
        worker_extra=slow_worker, gateways=("asgi", "wsgi"), gateway_extra=gateways,
    )  # fmt: skip
    for kind in ("asgi", "wsgi"):
        client = Client(stack.url(kind), timeout=40)
        # A quorum queue tells its publishers it is full a moment after it is (and lets a burst
        # already on its way in): the first wave fills it, the second meets the limit.
        first = Flood(client, 2 * LIMIT)
        time.sleep(0.3)
        second = Flood(client, LIMIT).outcomes()
        refused = [o for o in second if o.status == 503]
        # most of it: a channel new to the queue (a WSGI proxy's) may still get one in
        assert len(refused) >= LIMIT // 2, (kind, [o.describe() for o in second])
        assert {o.status for o in second} <= {200, 503}, (kind, [o.describe() for o in second])
        for outcome in refused:
            assert outcome.json()["type"].endswith(":overloaded"), outcome.describe()
            assert outcome.headers.get("retry-after") == "1"
            assert outcome.elapsed < 2.0, outcome.describe()  # the broker's nack, not a 30 s timeout
        filled = first.outcomes()
        assert {o.status for o in filled} <= {200, 503}, (kind, [o.describe() for o in filled])
        assert sum(o.status == 200 for o in filled) >= LIMIT, (kind, [o.describe() for o in filled])


class Flood:
    """`count` requests for the slow airport at once, in threads started now."""

    def __init__(self, client, count):
        self.client, self.lock, self.done = client, threading.Lock(), []
        self.threads = [threading.Thread(target=self.one) for _ in range(count)]
        [thread.start() for thread in self.threads]

    def one(self):
        outcome = self.client.get(SLOW)
        with self.lock:
            self.done.append(outcome)

    def outcomes(self):
        [thread.join(60) for thread in self.threads]
        return self.done
