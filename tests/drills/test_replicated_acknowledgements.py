"""With REDIS_WAIT_REPLICAS, a create the gateways acknowledge is on the replicas, also when it is
answered from an earlier run: the client's retry with its Idempotency-Key, or the gateway's own
copy of the call (sent every second while it waits, as long as WAIT's timeout), used to replay the
first run's result at once while that run still waited for a replica that would never confirm:
10 acknowledged creates lost in a run of the redis-split-brain drill (docs/faults.md). Real
gateways and `nameko run` over a private primary and replica, the replica frozen."""

import pytest
import redis

from devstack.http import Client

WAITING = {"REDIS_WAIT_REPLICAS": 1, "REDIS_WAIT_TIMEOUT_MS": 1000}


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_a_create_retried_with_its_key_is_acknowledged_only_once_the_replica_has_it(
    drill_stack, primary_and_replica, kind
):
    stack = drill_stack(redis_uri=primary_and_replica.primary.uri, worker_extra=WAITING, gateways=(kind,))
    client = Client(stack.url(kind))
    key = {"Idempotency-Key": f"replicated-{kind}"}
    primary_and_replica.freeze_replica()
    answers = [client.post("/airports", {"name": "Faro"}, headers=key) for _ in range(3)]
    assert [answer.status for answer in answers] == [503] * 3, [answer.body for answer in answers]
    primary_and_replica.thaw_replica()
    created = client.post("/airports", {"name": "Faro"}, headers=key)
    assert created.status == 201
    replica = redis.Redis(port=primary_and_replica.replica.port)
    assert replica.keys(f"*{{airports}}:record:{created.json()['id']}")  # not only on the primary
