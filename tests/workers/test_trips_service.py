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

from schemas.errors import (
    Conflict,
    IdempotencyKeyReused,
    NotFound,
    PreconditionFailed,
    ServiceUnavailable,
    ValidationError,
)
from schemas.etags import etag_of
from tests.support.races import write_after_first_read
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
    with pytest.raises(NotFound):  # no such airport, rather than no trips
        trips.list(airport="c" * 32)


def test_only_an_empty_first_page_asks_whether_the_airport_exists(trips, airports, remote, pair):
    trips.create(*pair)
    remote.failing["get"] = AssertionError("an airport with trips exists: nothing to ask")
    assert len(trips.list(airport=pair[0])["items"]) == 1
    del remote.failing["get"]
    lonely = airports.create(name="Lonely")["id"]
    assert trips.list(airport=lonely) == {"items": [], "next_cursor": None}


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


# Changes of a trip's airports: hold the new ones first, release the old ones after.


@pytest.fixture
def third(airports):
    return airports.create(name="Faro")["id"]


def holders_of(airports, *airport_ids):
    return [airports.holders(airport_id) for airport_id in airport_ids]


def outbox_is_empty(trip_store):
    return all(trip_store.redis.zcard(trip_store.keys(name)) == 0 for name in ("unconfirmed", "releasing"))


def test_a_change_holds_the_new_airport_and_releases_the_old_one(trips, airports, trip_store, pair, third):
    trip = trips.create(*pair)
    changed = trips.update(trip["id"], {"airport_to": third})
    assert changed == {**trip, "airport_to": third} == trips.get(trip["id"])
    assert holders_of(airports, *pair, third) == [[trip["id"]], [], [trip["id"]]]
    assert outbox_is_empty(trip_store)
    assert [t["id"] for t in trips.list(airport=third)["items"]] == [trip["id"]]
    assert trips.list(airport=pair[1])["items"] == []
    airports.delete(pair[1])  # the old airport is free
    with pytest.raises(Conflict) as refused:
        airports.delete(third)  # the new one is held, by this trip
    assert refused.value.conflicts_with == {"trips": [trip["id"]]}


def test_a_changed_trip_deleted_releases_what_it_holds_now(trips, airports, trip_store, pair, third):
    trip = trips.create(*pair)
    trips.update(trip["id"], {"airport_from": third})
    trips.update(trip["id"], {"airport_from": pair[0]})  # and back: a third holder
    trips.delete(trip["id"])
    assert holders_of(airports, *pair, third) == [[], [], []]
    assert outbox_is_empty(trip_store) and trip_store.redis.hlen(trip_store.keys("holds")) == 0
    for airport_id in (*pair, third):
        airports.delete(airport_id)


def test_swapping_the_ends_takes_no_holds(trips, airports, remote, pair):
    trip = trips.create(*pair)
    remote.failing["hold"] = AssertionError("the airports are the same: nothing to hold")
    swapped = trips.update(trip["id"], {"airport_from": pair[1], "airport_to": pair[0]})
    assert (swapped["airport_from"], swapped["airport_to"]) == (pair[1], pair[0])
    assert holders_of(airports, *pair) == [[trip["id"]], [trip["id"]]]


@pytest.mark.parametrize("end", ["airport_from", "airport_to"])
def test_a_change_to_a_missing_airport_names_the_field_and_changes_nothing(trips, airports, trip_store, pair, end):
    trip = trips.create(*pair)
    with pytest.raises(ValidationError) as error:
        trips.update(trip["id"], {end: "e" * 32})
    assert error.value.errors == {end: ["No airport with this id."]}
    assert trips.get(trip["id"]) == trip
    assert holders_of(airports, *pair) == [[trip["id"]], [trip["id"]]]
    assert outbox_is_empty(trip_store)


@pytest.mark.parametrize(
    "changes, field", [({"airport_to": "FROM"}, "airport_to"), ({"airport_from": "TO"}, "airport_from")]
)
def test_a_change_that_makes_both_ends_one_names_the_changed_field(trips, pair, changes, field):
    trip = trips.create(*pair)
    ends = {"FROM": pair[0], "TO": pair[1]}
    with pytest.raises(ValidationError) as error:
        trips.update(trip["id"], {name: ends[value] for name, value in changes.items()})
    assert set(error.value.errors) == {field}


@pytest.mark.parametrize("changes", [{"airport_to": None}, {"when": "now"}, {"airport_to": "nope"}, []])
def test_an_invalid_change_is_refused_before_anything_is_asked(trips, remote, pair, changes):
    trip = trips.create(*pair)
    remote.failing["hold"] = AssertionError("airports_service must not be called")
    with pytest.raises(ValidationError):
        trips.update(trip["id"], changes)


def test_a_stale_if_match_is_412_and_holds_nothing(trips, airports, remote, pair, third):
    trip = trips.create(*pair)
    current = etag_of(trip)
    trips.update(trip["id"], {"airport_to": third}, if_match=[current])
    remote.failing["hold"] = AssertionError("a precondition that fails holds nothing")
    with pytest.raises(PreconditionFailed):
        trips.update(trip["id"], {"airport_to": pair[1]}, if_match=[current])
    assert trips.get(trip["id"])["airport_to"] == third


def test_a_change_whose_hold_timed_out_is_released_and_changes_nothing(trips, airports, trip_store, pair, third):
    trip = trips.create(*pair)

    def hold_then_time_out(**kwargs):
        airports.hold(**kwargs)
        raise ServiceUnavailable("airports_service did not answer in time.")

    trips.airports = SimpleNamespace(hold=hold_then_time_out, release=airports.release)
    with pytest.raises(ServiceUnavailable):
        trips.update(trip["id"], {"airport_to": third})
    assert trips.get(trip["id"]) == trip
    assert holders_of(airports, *pair, third) == [[trip["id"]], [trip["id"]], []]
    assert outbox_is_empty(trip_store)


def test_a_change_past_its_deadline_cannot_commit_and_its_holds_go(trips, airports, trip_store, pair, third):
    trip = trips.create(*pair)
    trips.config["TRIP_HOLD_DEADLINE"] = -1

    def hold_then_sweep(**kwargs):
        airports.hold(**kwargs)
        trips.release_holds()  # the deadline passed: the sweep hands the new holds to release

    trips.airports = SimpleNamespace(hold=hold_then_sweep, release=airports.release)
    with pytest.raises(ServiceUnavailable):
        trips.update(trip["id"], {"airport_to": third})
    assert trips.get(trip["id"]) == trip
    assert holders_of(airports, *pair, third) == [[trip["id"]], [trip["id"]], []]


def test_a_change_that_dies_after_holding_is_released_after_the_deadline(trips, airports, trip_store, pair, third):
    trip = trips.create(*pair)
    holder = trip["id"] + "." + "c" * 32
    trip_store.intend(holder, [pair[0], third], deadline_ms=int(time.time() * 1000) - 1)
    airports.hold([pair[0], third], holder)  # ...and the worker died here
    trips.release_holds()
    assert holders_of(airports, *pair, third) == [[trip["id"]], [trip["id"]], []]
    assert trips.get(trip["id"]) == trip


def test_the_old_holds_are_released_by_the_timer_when_the_release_fails(trips, airports, remote, pair, third):
    trip = trips.create(*pair)
    remote.failing["release"] = ServiceUnavailable("down")
    trips.update(trip["id"], {"airport_to": third})
    assert airports.holders(pair[1]) == [trip["id"]]  # released later, still held: the safe side
    del remote.failing["release"]
    trips.release_holds()
    assert holders_of(airports, *pair, third) == [[trip["id"]], [], [trip["id"]]]


def test_a_change_that_lost_a_race_releases_its_holds_and_applies_to_the_new_trip(
    trips, airports, trip_store, pair, third, monkeypatch
):
    trip = trips.create(*pair)
    fourth = airports.create(name="Porto")["id"]
    reads = write_after_first_read(
        monkeypatch, trip_store, lambda trip_id: trips.update(trip_id, {"airport_from": fourth})
    )
    changed = trips.update(trip["id"], {"airport_to": third})
    assert len(reads) == 3  # the first read, the winner's own, and the second read
    assert changed == {**trip, "airport_from": fourth, "airport_to": third} == trips.get(trip["id"])
    assert holders_of(airports, *pair, third, fourth) == [[], [], [trip["id"]], [trip["id"]]]
    assert outbox_is_empty(trip_store)


def test_a_delete_that_raced_a_change_releases_the_new_holds_and_every_index(
    trips, airports, trip_store, pair, third, monkeypatch
):
    trip = trips.create(*pair)
    write_after_first_read(monkeypatch, trip_store, lambda trip_id: trips.update(trip_id, {"airport_to": third}))
    trips.delete(trip["id"])
    assert holders_of(airports, *pair, third) == [[], [], []]
    assert (
        trips.list(airport=third)["items"] == [] and trip_store.redis.zcard(trip_store.keys("by_airport", third)) == 0
    )


def test_an_idempotent_change_holds_once_and_replays(trips, airports, pair, third):
    trip = trips.create(*pair)
    first = trips.update(trip["id"], {"airport_to": third}, idempotency_key="change-1")
    trips.update(trip["id"], {"airport_to": pair[1]})  # changed back meanwhile
    again = trips.update(trip["id"], {"airport_to": third}, idempotency_key="change-1")
    assert again == first  # the first answer, not a second change
    assert trips.get(trip["id"])["airport_to"] == pair[1]
    with pytest.raises(IdempotencyKeyReused):
        trips.update(trip["id"], {"airport_to": pair[0]}, idempotency_key="change-1")
