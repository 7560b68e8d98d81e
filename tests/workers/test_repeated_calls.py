"""Calls run again: a delete run again under the same delivery id (nameko redelivering it, or the ASGI gateway
republishing it after losing its broker connection) answers as its first run did: no 404."""

import pytest
from nameko.testing.services import worker_factory

from schemas.errors import NotFound
from workers.airports.service import AirportsService
from workers.common.idempotency import Duplicate
from workers.runtime.context import IncomingCall
from workers.trips.service import TripsService


class Airports:
    """trips_service's RpcProxy to airports_service, called in-process."""

    def __init__(self, service):
        self.hold, self.release = service.hold, service.release


def airports_for(store, delivery_id):
    return worker_factory(AirportsService, store=store, incoming=IncomingCall(None, delivery_id))


def trips_for(store, airports, delivery_id):
    return worker_factory(
        TripsService,
        store=store,
        incoming=IncomingCall(None, delivery_id),
        airports=Airports(airports),
        config={"TRIP_HOLD_DEADLINE": 60, "TRIP_RELEASE_RETRY": 0},
    )


def test_an_airport_delete_run_twice_under_one_delivery_id_succeeds_twice(airport_store, redis_client, incoming_call):
    first = airports_for(airport_store, "corr-1")
    record = first.create(name="Lisbon", iata="LIS")
    assert first.delete(record["id"]) is None
    assert airports_for(airport_store, "corr-1").delete(record["id"]) is None  # the same call again
    with pytest.raises(NotFound):  # another call: the airport is gone
        airports_for(airport_store, "corr-2").delete(record["id"])
    with pytest.raises(NotFound):
        first.get(record["id"])
    marker = airport_store.idempotency.deletion_marker(incoming_call("corr-1"))
    assert 0 < redis_client.ttl(marker) <= airport_store.idempotency.redelivery_ttl


def test_a_delete_without_a_delivery_id_leaves_no_marker(airport_store):
    service = airports_for(airport_store, None)
    record = service.create(name="Porto")
    service.delete(record["id"])
    with pytest.raises(NotFound):
        service.delete(record["id"])


def test_the_marker_is_checked_inside_the_delete_script(airport_store, incoming_call):
    """A repeat that read the record before the first run deleted it still answers success."""
    service = airports_for(airport_store, "corr-3")
    record = service.create(name="Faro")
    marker = airport_store.idempotency.deletion_marker(incoming_call("corr-3"))
    stored = airport_store.get_stored(record["id"])
    assert airport_store.delete(stored, marker) == ("deleted",)
    assert airport_store.delete(stored, marker) == ("deleted",)  # the stale record of a concurrent run
    assert airport_store.delete(stored, "") == ("missing",)


def test_a_trip_delete_run_twice_under_one_delivery_id_succeeds_and_releases_once(airport_store, trip_store):
    airports = airports_for(airport_store, None)
    a, b = airports.create(name="A")["id"], airports.create(name="B")["id"]
    trip = trips_for(trip_store, airports, "create-1").create(airport_from=a, airport_to=b)
    assert airports.holders(a) == [trip["id"]]
    assert trips_for(trip_store, airports, "delete-1").delete(trip["id"]) is None
    assert trips_for(trip_store, airports, "delete-1").delete(trip["id"]) is None
    with pytest.raises(NotFound):
        trips_for(trip_store, airports, "delete-2").delete(trip["id"])
    assert airports.holders(a) == [] and airports.holders(b) == []
    airports.delete(a)  # nothing holds it any more


# Creates: copies of one call (the ASGI gateway sends a republished call again while it has no
# answer) leave the answer to the run in progress; a redelivery or another reply queue takes over.


@pytest.fixture
def idempotency(airport_store):
    return airport_store.idempotency


def copy_of(delivery_id, reply_to, redelivered=False):
    return IncomingCall(request_id=None, delivery_id=delivery_id, reply_to=reply_to, redelivered=redelivered)


def test_a_copy_for_the_same_reply_queue_leaves_the_answer_to_the_first_run(idempotency):
    first = idempotency.begin(copy_of("c1", "queue-a"), None, {"n": 1})
    with pytest.raises(Duplicate):
        idempotency.begin(copy_of("c1", "queue-a"), None, {"n": 1})
    # the first run still owns the key: its commit goes through
    assert idempotency.begin(copy_of("c1", "queue-a", redelivered=True), None, {"n": 1}).token != first.token


def test_a_copy_for_another_reply_queue_takes_over(idempotency):
    first = idempotency.begin(copy_of("c2", "queue-a"), "key-2", {"n": 1})
    second = idempotency.begin(copy_of("c2", "queue-b"), "key-2", {"n": 1})
    assert second.token != first.token and second.key == first.key
