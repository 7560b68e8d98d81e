"""bench/bulk_load.py: what it loads is what the services would have written. Read back through the
real stores (pages in order, the deep cursors, the holders, the holds), compared key for key with
records the real services created, and deleted through the real services: a loaded trip releases
its airports, which can then be deleted."""

import re
import uuid

import pytest
from nameko.testing.services import worker_factory

from bench import bulk_load
from schemas.airports import Airport
from schemas.errors import Conflict, ValidationError
from schemas.trips import Trip
from workers.airports.service import AirportsService
from workers.airports.storage import AirportStore
from workers.common.records import loads
from workers.runtime.context import IncomingCall
from workers.trips.service import TripsService
from workers.trips.storage import TripStore

pytestmark = pytest.mark.fast

COUNT, BUSY = 500, 200


@pytest.fixture
def prefix(redis_client, redis_prefix):
    """A prefix of this test's own, under the session's; its keys deleted after the test."""
    own = f"{redis_prefix}bulk-{uuid.uuid4().hex[:6]}:"
    yield own
    keys = list(redis_client.scan_iter(f"{own}*", 1000))
    if keys:
        redis_client.unlink(*keys)


@pytest.fixture
def loaded(redis_client, prefix):
    return bulk_load.load(redis_client, prefix, COUNT, busy_trips=BUSY, batch=64)  # many small batches


def services(client, prefix):
    """airports_service and trips_service on the real stores, as bench.record_memory runs them."""
    incoming = IncomingCall(request_id=None, delivery_id=None)
    airports = worker_factory(AirportsService, store=AirportStore(client, prefix, {}), incoming=incoming)
    trips = worker_factory(
        TripsService,
        store=TripStore(client, prefix, {}),
        incoming=incoming,
        airports=airports,
        config={"TRIP_HOLD_DEADLINE": 60, "TRIP_RELEASE_RETRY": 0},
    )
    return airports, trips


def walk(page):
    """Every record of a listing, page by page: `page(limit, cursor)`."""
    records, cursor = [], None
    while True:
        result = page(100, cursor)
        records += result["items"]
        cursor = result["next_cursor"]
        if cursor is None:
            return records


def test_airports_are_listed_in_order_and_the_deep_cursor_is_the_middle(redis_client, prefix, loaded):
    store = AirportStore(redis_client, prefix, {})
    airports = walk(store.page)
    assert len(airports) == COUNT == loaded.airports
    assert Airport(many=True).validate(airports) == {}
    assert [a["name"] for a in airports] == [f"Bulk airport {n}" for n in range(COUNT)]  # creation order
    assert redis_client.get(store.keys("seq")) == str(COUNT)
    assert [a["id"] for a in airports[:: COUNT // bulk_load.SAMPLE]] == loaded.sample_airports
    assert store.get(loaded.sample_airports[7]) == airports[7 * COUNT // bulk_load.SAMPLE]

    deep = store.page(20, loaded.airports_cursor)
    assert deep["items"] == airports[COUNT // 2 + 1 : COUNT // 2 + 21]
    assert deep["next_cursor"] is not None


def test_the_busy_airport_has_its_trips_listed_and_held(redis_client, prefix, loaded):
    trips, airports = TripStore(redis_client, prefix, {}), AirportStore(redis_client, prefix, {})
    busy = loaded.busy_airport
    assert busy == walk(airports.page)[0]["id"] and loaded.busy_trips == BUSY
    everything = walk(lambda limit, cursor: trips.page(limit, cursor))
    assert len(everything) == COUNT and Trip(many=True).validate(everything) == {}
    assert redis_client.get(trips.keys("seq")) == str(COUNT)

    of_busy = walk(lambda limit, cursor: trips.page(limit, cursor, airport=busy))
    assert len(of_busy) == BUSY
    assert of_busy == [t for t in everything if busy in (t["airport_from"], t["airport_to"])]  # same order
    assert [t["airport_from"] == busy for t in of_busy[:4]] == [True, False, True, False]  # from, to, ...
    assert airports.holders(busy) == sorted(t["id"] for t in of_busy)

    deep = trips.page(20, loaded.busy_trips_cursor, airport=busy)
    assert deep["items"] == of_busy[BUSY // 2 + 1 : BUSY // 2 + 21]
    with pytest.raises(ValidationError):  # bound to its listing, as the stores' own are
        trips.page(20, loaded.busy_trips_cursor)


def test_every_airport_is_held_by_exactly_its_trips(redis_client, prefix, loaded):
    trips, airports = TripStore(redis_client, prefix, {}), AirportStore(redis_client, prefix, {})
    everything = walk(lambda limit, cursor: trips.page(limit, cursor))
    ends = {}
    for trip in everything:
        assert trip["airport_from"] != trip["airport_to"]
        for end in (trip["airport_from"], trip["airport_to"]):
            ends.setdefault(end, set()).add(trip["id"])
        # what a release of its holds reads (due_releases), as trips_service's intend leaves it
        assert loads(redis_client.hget(trips.keys("holds"), trip["id"])) == [trip["airport_from"], trip["airport_to"]]
    for airport in walk(airports.page):
        assert set(airports.holders(airport["id"])) == ends.get(airport["id"], set())
    assert max(len(held) for airport, held in ends.items() if airport != loaded.busy_airport) <= 3


def test_a_loaded_trip_is_deleted_and_releases_its_airports(redis_client, prefix, loaded):
    airports, trips = services(redis_client, prefix)
    busy = loaded.busy_airport
    # an airport of the "rest": trips that join two other airports
    quiet = next(
        a["id"] for a in walk(airports.store.page)[::-1] if a["id"] != busy and airports.store.holders(a["id"])
    )
    with pytest.raises(Conflict):
        airports.delete(quiet)  # held by its trips
    for trip_id in airports.store.holders(quiet):
        record = trips.get(trip_id)
        trips.delete(trip_id)
        assert trips.store.get(trip_id) is None
        for end in (record["airport_from"], record["airport_to"]):
            listed = walk(lambda limit, cursor, end=end: trips.store.page(limit, cursor, end))
            assert trip_id not in [t["id"] for t in listed]
            assert trip_id not in airports.store.holders(end)
        assert redis_client.hget(trips.store.keys("holds"), trip_id) is None  # released, as after any delete
    airports.delete(quiet)
    assert airports.store.get(quiet) is None
    # the counts the listing sees followed
    assert redis_client.zcard(airports.store.keys("index")) == COUNT - 1


def test_new_records_come_after_the_loaded_ones(redis_client, prefix, loaded):
    airports, _ = services(redis_client, prefix)
    created = airports.create(name="After the load")
    listed = walk(airports.store.page)
    assert listed[-1] == created and len(listed) == COUNT + 1
    again = bulk_load.load(redis_client, prefix, 10, trips=0)
    assert [a["name"] for a in walk(airports.store.page)[-11:]] == ["After the load"] + [
        f"Bulk airport {n}" for n in range(10)
    ]
    assert again.busy_airport is None and again.trips == 0


def shape(client, prefix):
    """The keys under `prefix` with ids blanked, each with its type, and what the records hold:
    {(key, type): value shape}."""
    blank = re.compile(r"[0-9a-f]{32}")
    found = {}
    for key in client.scan_iter(f"{prefix}*", 1000):
        kind = client.type(key)
        name = blank.sub("<id>", key[len(prefix) :])
        if ":idempotency:" in name:
            continue  # the services' own creates leave these (for an hour); a load has no caller to answer
        if kind == "string" and ":record:" in name:
            record = loads(client.get(key))
            value = tuple(sorted((field, type(v).__name__) for field, v in record.items()))
        elif kind == "zset":
            value = "scores are sequences" if _scores_are_sequences(client, key) else "other scores"
        else:
            value = None
        found.setdefault((name, kind), set()).add(value)
    return found


def _scores_are_sequences(client, key):
    scores = [score for _, score in client.zrange(key, 0, -1, withscores=True)]
    return scores == sorted(scores) and all(s == int(s) and s > 0 for s in scores)


def test_it_writes_what_the_services_write(redis_client, prefix):
    """Three airports and two trips (one from the first airport, one to it: its two "busy" trips)
    made through the services, and the same loaded: the same keys, types and record fields."""
    airports, trips = services(redis_client, prefix + "services:")
    ids = [airports.create(name=f"Airport {n}")["id"] for n in range(3)]
    trips.create(airport_from=ids[0], airport_to=ids[1])
    trips.create(airport_from=ids[2], airport_to=ids[0])
    result = bulk_load.load(redis_client, prefix + "loaded:", 3, trips=2, busy_trips=2)
    assert result.busy_trips == 2
    made, loaded = shape(redis_client, prefix + "services:"), shape(redis_client, prefix + "loaded:")
    assert loaded == made
    assert ("{trips}:holds", "hash") in loaded and ("{airports}:holders:<id>", "set") in loaded


def test_iata_codes_are_loaded_as_the_service_stores_them(redis_client, prefix):
    result = bulk_load.load(redis_client, prefix, 30, trips=0, iata=True)
    store = AirportStore(redis_client, prefix, {})
    first = store.get(result.sample_airports[0])
    assert first["iata"] == "AAA" and redis_client.get(store.keys("iata", "AAA")) == first["id"]
    assert [bulk_load.iata_code(n) for n in (0, 1, 26, 26**3 - 1, 26**3)] == ["AAA", "AAB", "ABA", "ZZZ", None]


def test_the_busy_airport_takes_100k_trips_once_there_are_that_many():
    assert bulk_load.default_busy_trips(1_000_000) == 100_000
    assert bulk_load.default_busy_trips(100_000) == 100_000
    assert bulk_load.default_busy_trips(1000) == 100
    ends = list(bulk_load.trip_ends(10, 4, 5))
    assert sum(0 in pair for pair in ends) == 4 and all(a != b for a, b in ends)


def test_the_command_line_loads_and_says_what(redis_client, prefix, redis_uri, capsys):
    assert bulk_load.main(["--redis-uri", redis_uri, "--prefix", prefix, "--count", "50", "--busy-trips", "10"]) == 0
    out = capsys.readouterr().out
    assert "50 airports and 50 trips (10 of them with the busy airport)" in out
    assert redis_client.zcard(AirportStore(redis_client, prefix, {}).keys("index")) == 50
