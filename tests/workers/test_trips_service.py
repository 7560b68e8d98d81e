"""trips_service's rules and its holds on airports, on a real Redis, through worker_factory.

airports_service is a real AirportsService worker called in-process instead of over AMQP;
the integration tests do the same over a real broker.
"""

import time
from types import SimpleNamespace

import eventlet
import pytest
from kombu.exceptions import OperationalError
from nameko.testing.services import worker_factory

from schemas.errors import Conflict, NotFound, ServiceUnavailable, ValidationError
from workers.airports.service import AirportsService
from workers.trips.service import TripsService

pytestmark = pytest.mark.fast


class FlakyAirports:
    """airports_service in-process, with one method made to fail on demand."""

    def __init__(self, service):
        self.service, self.failing = service, {}

    def __getattr__(self, method):
        def invoke(**kwargs):
            if method in self.failing:
                raise self.failing[method]
            return getattr(self.service, method)(**kwargs)

        return invoke


@pytest.fixture
def airports(airport_store, incoming_call):
    return worker_factory(AirportsService, store=airport_store, incoming=incoming_call())


@pytest.fixture
def remote(airports):
    return FlakyAirports(airports)


@pytest.fixture
def trips(trip_store, remote, incoming_call):
    return worker_factory(
        TripsService,
        store=trip_store,
        incoming=incoming_call(),
        airports=remote,
        config={"TRIP_HOLD_DEADLINE": 60, "TRIP_RELEASE_RETRY": 0},
    )


@pytest.fixture
def pair(airports):
    return airports.create(name="Lisbon")["id"], airports.create(name="Porto")["id"]


def test_create_returns_the_record_and_holds_both_airports(trips, airports, pair):
    trip = trips.create(*pair)
    assert (trip["airport_from"], trip["airport_to"]) == pair
    assert trips.get(trip["id"]) == trip
    assert airports.holders(pair[0]) == airports.holders(pair[1]) == [trip["id"]]


def test_a_trip_to_itself_is_invalid(trips, pair):
    with pytest.raises(ValidationError) as error:
        trips.create(pair[0], pair[0])
    assert error.value.errors == {"airport_to": ["Must differ from airport_from."]}


@pytest.mark.parametrize("which", ["airport_from", "airport_to", "both"])
def test_a_missing_airport_names_the_field_and_holds_nothing(trips, airports, trip_store, pair, which):
    missing = "e" * 32
    ends = {"airport_from": pair[0], "airport_to": pair[1]}
    if which == "both":
        ends = {"airport_from": missing, "airport_to": "d" * 32}
    else:
        ends[which] = missing
    with pytest.raises(ValidationError) as error:
        trips.create(**ends)
    assert set(error.value.errors) == ({"airport_from", "airport_to"} if which == "both" else {which})
    assert airports.holders(pair[0]) == airports.holders(pair[1]) == []
    assert trips.list()["items"] == []
    assert trip_store.redis.zcard(trip_store.keys("unconfirmed")) == 0


def test_malformed_airport_ids_are_invalid_without_asking_airports(trips, remote):
    remote.failing["hold"] = AssertionError("airports_service must not be called")
    with pytest.raises(ValidationError) as error:
        trips.create("nope", "*")
    assert set(error.value.errors) == {"airport_from", "airport_to"}


def test_an_airport_with_trips_cannot_be_deleted_until_they_are(trips, airports, pair):
    first, second = trips.create(*pair), trips.create(pair[1], pair[0])
    with pytest.raises(Conflict):
        airports.delete(pair[0])
    trips.delete(first["id"])
    with pytest.raises(Conflict):
        airports.delete(pair[0])
    trips.delete(second["id"])
    airports.delete(pair[0])


def test_list_filters_trips_from_or_to_an_airport(trips, airports, pair):
    third = airports.create(name="Faro")["id"]
    a = trips.create(pair[0], pair[1])
    b = trips.create(third, pair[0])
    c = trips.create(pair[1], third)
    assert [t["id"] for t in trips.list(airport=pair[0])["items"]] == [a["id"], b["id"]]
    assert [t["id"] for t in trips.list(airport=third)["items"]] == [b["id"], c["id"]]
    assert [t["id"] for t in trips.list()["items"]] == [a["id"], b["id"], c["id"]]
    assert trips.list(airport="c" * 32)["items"] == []


def test_a_cursor_of_one_filter_is_refused_by_another(trips, airports, pair):
    for _ in range(3):
        trips.create(*pair)
    cursor = trips.list(airport=pair[0], limit=1)["next_cursor"]
    assert trips.list(airport=pair[0], limit=1, cursor=cursor)["items"]
    with pytest.raises(ValidationError):
        trips.list(limit=1, cursor=cursor)
    with pytest.raises(ValidationError):
        trips.list(airport="c" * 32, cursor=cursor)


def test_unknown_trips_are_not_found(trips):
    for trip_id in ["f" * 32, "*", None]:
        with pytest.raises(NotFound):
            trips.get(trip_id)
        with pytest.raises(NotFound):
            trips.delete(trip_id)


def test_a_failed_release_is_retried_by_the_timer(trips, airports, remote, pair):
    trip = trips.create(*pair)
    remote.failing["release"] = ServiceUnavailable("down")
    trips.delete(trip["id"])
    assert airports.holders(pair[0]) == [trip["id"]]  # not released yet
    del remote.failing["release"]
    trips.release_holds()
    assert airports.holders(pair[0]) == airports.holders(pair[1]) == []


def test_a_hold_that_times_out_is_released(trips, airports, trip_store, pair):
    # The hold ran at airports_service, but its answer came too late: the create fails, and the
    # holds it did take are released at once.
    def hold_then_time_out(**kwargs):
        airports.hold(**kwargs)
        raise ServiceUnavailable("airports_service did not answer in time.")

    trips.airports = SimpleNamespace(hold=hold_then_time_out, release=airports.release)
    with pytest.raises(ServiceUnavailable):
        trips.create(*pair)
    assert airports.holders(pair[0]) == airports.holders(pair[1]) == []
    assert trip_store.redis.zcard(trip_store.keys("releasing")) == 0
    assert trips.list()["items"] == []


def test_a_hold_the_broker_refused_is_asked_again(trips, airports, pair):
    # The quorum queue's leader died under the publish: the broker nacks it (kombu raises its
    # OperationalError), nothing reached airports_service, and the hold goes out again.
    refusals = []

    def hold(**kwargs):
        if not refusals:
            refusals.append(kwargs)
            raise OperationalError("MessageNacked")
        return airports.hold(**kwargs)

    trips.airports = SimpleNamespace(hold=hold, release=airports.release)
    trip = trips.create(*pair)
    assert refusals and airports.holders(pair[0]) == airports.holders(pair[1]) == [trip["id"]]


def test_a_hold_with_no_answer_in_time_is_asked_again_on_new_connections(trips, airports, pair, renewals):
    # A pooled channel can go on sending to a dead quorum queue leader, its publishes never
    # confirmed (workers/runtime/publishing.py): the attempt that got no answer renews kombu's
    # pooled connections, and the next one goes out on a new one.
    attempts = []

    def hold(**kwargs):
        attempts.append(len(renewals))
        if len(attempts) == 1:
            eventlet.sleep(5)  # as a publish waiting for its confirm on such a channel
        return airports.hold(**kwargs)

    trips.config["AIRPORTS_RPC_ATTEMPT"] = 0.2
    trips.airports = SimpleNamespace(hold=hold, release=airports.release)
    started = time.monotonic()
    trip = trips.create(*pair)
    assert time.monotonic() - started < 1.0
    assert attempts == [0, 1]  # the second attempt came after one renewal
    assert airports.holders(pair[0]) == airports.holders(pair[1]) == [trip["id"]]


def test_a_hold_the_broker_refuses_until_the_timeout_is_unavailable(trips, airports, pair):
    def refuse(**kwargs):
        raise OperationalError("MessageNacked")

    trips.config["AIRPORTS_RPC_TIMEOUT"] = 0.5
    trips.airports = SimpleNamespace(hold=refuse, release=airports.release)
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable, match="could not be reached"):
        trips.create(*pair)
    assert time.monotonic() - started < 1.0
    assert airports.holders(pair[0]) == airports.holders(pair[1]) == []


def test_a_create_that_dies_after_holding_is_released_after_the_deadline(trips, airports, trip_store, pair):
    trip_id = "c" * 32
    trip_store.intend(trip_id, list(pair), deadline_ms=int(time.time() * 1000) - 1)
    airports.hold(list(pair), trip_id)  # ...and the worker died here
    trips.release_holds()
    assert airports.holders(pair[0]) == []
    assert trip_store.redis.zcard(trip_store.keys("releasing")) == 0


def test_a_create_past_its_deadline_cannot_commit(trips, airports, pair):
    # The release sweep claimed the trip first: the late create must fail, not leave a trip without holds.
    trips.config["TRIP_HOLD_DEADLINE"] = -1

    def hold_then_sweep(**kwargs):
        airports.hold(**kwargs)
        trips.release_holds()

    trips.airports = SimpleNamespace(hold=hold_then_sweep, release=airports.release)
    with pytest.raises(ServiceUnavailable):
        trips.create(*pair)
    assert trips.list()["items"] == []
    assert airports.holders(pair[0]) == airports.holders(pair[1]) == []


def test_idempotent_create_holds_once_and_replays(trips, airports, pair):
    first = trips.create(*pair, idempotency_key="k")
    again = trips.create(*pair, idempotency_key="k")
    assert first == again
    assert airports.holders(pair[0]) == [first["id"]]
    assert len(trips.list()["items"]) == 1
