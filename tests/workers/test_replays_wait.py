"""With REDIS_WAIT_REPLICAS, an answer given from an earlier run's write (a replayed create or
change, a delete done before) waits for the replicas as the first run did: else a copy of the call
answers 201 for a write only the primary holds, and a failover loses it (docs/faults.md, "A replay
answered before the replicas had it"). On a private primary and replica, the replica frozen.
This machine's Redis 7.0 moves what WAIT covers with any command of the connection; 7.2 and later
(the images the project ships) only with its writes, hence the last test."""

import pytest
import redis

from schemas.errors import ServiceUnavailable
from workers.airports.storage import AirportStore
from workers.runtime.context import IncomingCall

pytestmark = pytest.mark.fast

PREFIX = "replays:"
WAITING = {"REDIS_WAIT_REPLICAS": 1, "REDIS_WAIT_TIMEOUT_MS": 300}
RECORD = {"id": "c" * 32, "name": "Faro", "iata": None, "created_at": "2026-01-01T00:00:00Z"}


def store_on(server):
    """A store with connections of its own: its WAIT knows nothing another one wrote."""
    client = redis.Redis(port=server.port, decode_responses=True, socket_timeout=2)
    return AirportStore(client, PREFIX, WAITING)


def confirmed_store_on(server):
    """A store whose connection's last write the replica confirmed: a WAIT on it that counts
    only that write answers at once, whatever the primary wrote since on other connections."""
    store = store_on(server)
    store.redis.set(PREFIX + "warm", 1)
    assert store.redis.wait(1, 1000) == 1
    return store


def call(delivery_id):
    return IncomingCall(request_id=None, delivery_id=delivery_id, reply_to="reply-queue", redelivered=False)


def create(store, delivery_id):
    return store.idempotency.write_once(
        call(delivery_id), "key-1", {"name": RECORD["name"]}, lambda attempt: store.create(RECORD, attempt) and RECORD
    )


def test_a_replayed_create_is_answered_only_once_the_replicas_have_it(primary_and_replica):
    primary, replica = primary_and_replica.primary, primary_and_replica.replica
    copy, retry = confirmed_store_on(primary), confirmed_store_on(primary)
    primary_and_replica.freeze_replica()
    with pytest.raises(ServiceUnavailable):  # the first run: stored on the primary alone
        create(store_on(primary), "delivery-1")
    # A copy of the call, or the client's retry with the key, on other connections: it finds the
    # result done, and must not answer it while the replica still lacks it.
    with pytest.raises(ServiceUnavailable, match="0 of the 1 replica"):
        create(copy, "delivery-1")
    with pytest.raises(ServiceUnavailable):
        create(retry, "delivery-2")
    primary_and_replica.thaw_replica()
    assert create(retry, "delivery-2") == RECORD
    assert store_on(replica).get(RECORD["id"]) == RECORD


def test_a_delete_run_again_is_answered_only_once_the_replicas_have_it(primary_and_replica):
    primary, replica = primary_and_replica.primary, primary_and_replica.replica
    store = store_on(primary)
    create(store, "delivery-1")
    stored = store.get_stored(RECORD["id"])
    marker = store.idempotency.deletion_marker(call("delete-1"))
    again, again_scripted = confirmed_store_on(primary), confirmed_store_on(primary)
    primary_and_replica.freeze_replica()
    with pytest.raises(ServiceUnavailable):  # deleted on the primary alone
        store.delete(stored, marker)
    # The call run again (a redelivery, a republished request) finds the record gone and its
    # own marker: "deleted", but not before the replica has the delete.
    with pytest.raises(ServiceUnavailable):
        again.idempotency.deleted_by(call("delete-1"), RECORD["id"])
    with pytest.raises(ServiceUnavailable):
        again_scripted.delete(stored, marker)
    primary_and_replica.thaw_replica()
    assert again.idempotency.deleted_by(call("delete-1"), RECORD["id"]) is True
    assert store_on(replica).get(RECORD["id"]) is None
    assert again.idempotency.deleted_by(call("delete-2"), RECORD["id"]) is False


def test_a_replay_and_a_delete_found_done_write_again_for_the_wait_to_cover(primary_and_replica):
    # Since Redis 7.2 WAIT covers what its own connection wrote: a replay that only read would be
    # covered only up to that connection's last write. Each must send the replicas a write of its
    # own, the entry or the marker again (measured here without WAIT, which sends GETACKs).
    primary = primary_and_replica.primary
    control = redis.Redis(port=primary.port)
    store = AirportStore(redis.Redis(port=primary.port, decode_responses=True), PREFIX, {})

    def sent_to_replicas(action):
        before = control.info("replication")["master_repl_offset"]
        result = action()
        return result, control.info("replication")["master_repl_offset"] - before

    first, _ = sent_to_replicas(lambda: create(store, "delivery-1"))
    replay, sent = sent_to_replicas(lambda: create(store, "delivery-2"))
    assert replay == first and sent > len(RECORD["id"]) * 2  # the entry, record and all (a PING is 14)
    marker = store.idempotency.deletion_marker(call("delete-1"))
    assert store.delete(store.get_stored(RECORD["id"]), marker) == ("deleted",)
    found, sent = sent_to_replicas(lambda: store.idempotency.deleted_by(call("delete-1"), RECORD["id"]))
    assert found is True and sent > len(RECORD["id"])
    control.close()
