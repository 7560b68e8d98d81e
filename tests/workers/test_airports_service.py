"""airports_service's rules, on a real Redis, through nameko.testing.worker_factory."""

import re

import pytest
from nameko.testing.services import worker_factory

from schemas.airports import AirportListQuery
from schemas.errors import Conflict, NotFound, PreconditionFailed, ValidationError
from schemas.etags import etag_of
from tests.support.races import write_after_first_read
from workers.airports.service import AirportsService

pytestmark = pytest.mark.fast

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def airports(airport_store, incoming_call):
    return worker_factory(AirportsService, store=airport_store, incoming=incoming_call())


def test_create_returns_the_record(airports):
    record = airports.create(name="  Lisbon ", iata="LIS")
    assert re.fullmatch(r"[0-9a-f]{32}", record["id"])
    assert record["name"] == "Lisbon"
    assert record["iata"] == "LIS"
    assert TIMESTAMP.match(record["created_at"])
    assert airports.get(record["id"]) == record


def test_iata_is_optional(airports):
    assert airports.create("Porto")["iata"] is None


@pytest.mark.parametrize(
    "name, iata, fields",
    [
        ("", None, {"name"}),
        ("   ", None, {"name"}),
        ("x" * 121, None, {"name"}),
        (None, None, {"name"}),
        (42, None, {"name"}),
        ("ok", "lis", {"iata"}),
        ("ok", "LISB", {"iata"}),
        ("ok", "L1S", {"iata"}),
        ("ok", "LIS\n", {"iata"}),  # `$` alone would match before the newline
        ("", "xx", {"name", "iata"}),
        ("Lis\nbon", None, {"name"}),
        ("\u202eNOBSIL", None, {"name"}),
        ("\u200b", None, {"name"}),
    ],
)
def test_invalid_input_names_each_bad_field(airports, name, iata, fields):
    with pytest.raises(ValidationError) as error:
        airports.create(name=name, iata=iata)
    assert set(error.value.errors) == fields
    assert all(isinstance(m, str) for messages in error.value.errors.values() for m in messages)


def test_names_are_stored_in_nfc(airports):
    assert airports.create(name=" Sa\u0303o Paulo ")["name"] == "S\u00e3o Paulo"


def test_names_of_120_characters_are_fine(airports):
    assert airports.create(name="x" * 120)["name"] == "x" * 120


def test_a_taken_iata_code_is_a_conflict_naming_its_airport_and_creates_nothing(airports):
    lisbon = airports.create(name="Lisbon", iata="LIS")
    with pytest.raises(Conflict) as refused:
        airports.create(name="Other", iata="LIS")
    assert refused.value.conflicts_with == {"airports": [lisbon["id"]]}
    assert lisbon["id"] in refused.value.detail
    assert len(airports.list()["items"]) == 1


def test_a_deleted_airport_frees_its_iata_code(airports):
    record = airports.create(name="Lisbon", iata="LIS")
    airports.delete(record["id"])
    assert airports.create(name="Lisbon again", iata="LIS")["iata"] == "LIS"


@pytest.mark.parametrize(
    "airport_id", ["f" * 32, "nope", "*", "airport:*", "../" * 20, "F" * 32, "", None, 7, "f" * 32 + "\n"]
)
def test_unknown_or_malformed_ids_are_not_found(airports, airport_id):
    with pytest.raises(NotFound):
        airports.get(airport_id)
    with pytest.raises(NotFound):
        airports.delete(airport_id)


def test_malformed_ids_never_reach_redis(airports, airport_store):
    airport_store.redis = None  # any Redis call would now raise AttributeError
    with pytest.raises(NotFound):
        airports.get("*")


def test_delete_removes_the_record(airports):
    record = airports.create(name="Lisbon")
    airports.delete(record["id"])
    with pytest.raises(NotFound):
        airports.get(record["id"])
    assert airports.list()["items"] == []


def test_a_held_airport_cannot_be_deleted_until_released(airports):
    record = airports.create(name="Lisbon")
    trip = "a" * 32
    airports.hold([record["id"]], trip)
    assert airports.holders(record["id"]) == [trip]
    with pytest.raises(Conflict) as refused:
        airports.delete(record["id"])
    assert refused.value.conflicts_with == {"trips": [trip]}
    assert refused.value.detail.startswith("1 trip(s) use this airport;")
    airports.release([record["id"]], trip)
    airports.release([record["id"]], trip)  # idempotent
    airports.delete(record["id"])


def test_an_airport_in_use_by_many_trips_names_ten(airports):
    record = airports.create(name="Lisbon")
    trips = [f"{n:032x}" for n in range(12)]
    for trip in trips:
        airports.hold([record["id"]], trip)
    with pytest.raises(Conflict) as refused:
        airports.delete(record["id"])
    named = refused.value.conflicts_with["trips"]
    assert len(named) == 10 and set(named) <= set(trips)
    assert refused.value.detail.startswith("12 trip(s) use this airport (10 named here);")


def test_a_change_of_a_trips_airports_holds_under_a_holder_of_its_own(airports):
    # A trip's create holds as the trip; each change of its airports as `<trip>.<change>`, so that
    # releasing the create's holds does not refuse the change's (a released holder holds no more).
    record = airports.create(name="Lisbon")
    trip, change = "a" * 32, "a" * 32 + "." + "b" * 32
    airports.hold([record["id"]], trip)
    airports.hold([record["id"]], change)
    airports.release([record["id"]], trip)
    assert airports.holders(record["id"]) == [trip]  # the trips, not their holders
    with pytest.raises(Conflict) as refused:
        airports.delete(record["id"])
    assert refused.value.conflicts_with == {"trips": [trip]}
    airports.release([record["id"]], change)
    airports.delete(record["id"])


def test_hold_is_all_or_nothing(airports):
    record = airports.create(name="Lisbon")
    missing = "b" * 32
    with pytest.raises(NotFound) as error:
        airports.hold([record["id"], missing], "a" * 32)
    assert error.value.ids == [missing]
    assert airports.holders(record["id"]) == []


@pytest.mark.parametrize(
    "ids, holder",
    [
        ([], "a" * 32),
        (["x"], "a" * 32),
        ("f" * 32, "a" * 32),
        (["f" * 32], "*"),
        (["f" * 32 + "\n"], "a" * 32),
        (["f" * 32], "a" * 32 + "."),
        (["f" * 32], "a" * 32 + ".b"),
        (["f" * 32], "a" * 32 + "." + "b" * 32 + "\n"),
    ],
)
def test_hold_validates_its_arguments(airports, ids, holder):
    with pytest.raises(ValidationError):
        airports.hold(ids, holder)


def test_a_hold_that_comes_after_its_release_is_refused(airports):
    # A hold can run late (it waited in a queue, or was redelivered) after the trip gave up and
    # released: it must not leave a holder that nothing will ever release.
    record = airports.create(name="Lisbon")
    trip = "c" * 32
    airports.release([record["id"]], trip)
    with pytest.raises(Conflict):
        airports.hold([record["id"]], trip)
    assert airports.holders(record["id"]) == []
    airports.delete(record["id"])


def test_update_changes_the_record_and_moves_its_iata_index_atomically(airports, airport_store):
    record = airports.create(name="Lisbon", iata="LIS")
    changed = airports.update(record["id"], {"iata": "LPT", "name": "Lisboa"})
    assert changed == {**record, "iata": "LPT", "name": "Lisboa"} == airports.get(record["id"])
    redis = airport_store.redis
    assert redis.get(airport_store.keys("iata", "LIS")) is None
    assert redis.get(airport_store.keys("iata", "LPT")) == record["id"]


def test_a_change_that_lost_a_race_reads_again_and_applies_to_the_new_record(airports, airport_store, monkeypatch):
    record = airports.create(name="Lisbon", iata="LIS")
    reads = write_after_first_read(monkeypatch, airport_store, lambda airport_id: rename(airport_store, airport_id))
    assert airports.update(record["id"], {"iata": "LPT"}) == {**record, "name": "Lisboa", "iata": "LPT"}
    assert len(reads) == 2


def rename(store, airport_id):
    """Another change, written behind the service's back."""
    key = store.record_key(airport_id)
    store.redis.set(key, store.redis.get(key).replace("Lisbon", "Lisboa"))


def test_a_change_with_if_match_that_lost_a_race_is_412_and_changes_nothing(airports, airport_store, monkeypatch):
    record = airports.create(name="Lisbon", iata="LIS")
    write_after_first_read(monkeypatch, airport_store, lambda airport_id: rename(airport_store, airport_id))
    with pytest.raises(PreconditionFailed):
        airports.update(record["id"], {"iata": "LPT"}, if_match=[etag_of(record)])
    assert airports.get(record["id"]) == {**record, "name": "Lisboa"}
    assert airport_store.redis.get(airport_store.keys("iata", "LIS")) == record["id"]


def test_a_delete_that_raced_a_change_of_the_code_frees_the_new_code(airports, airport_store, monkeypatch):
    record = airports.create(name="Lisbon", iata="LIS")
    write_after_first_read(monkeypatch, airport_store, lambda airport_id: airports.update(airport_id, {"iata": "LPT"}))
    airports.delete(record["id"])
    assert airport_store.redis.get(airport_store.keys("iata", "LPT")) is None  # not left pointing at nothing
    assert airports.create(name="New", iata="LPT")["iata"] == "LPT"


def test_an_update_of_an_unknown_airport_is_not_found_and_claims_no_key(airports):
    with pytest.raises(NotFound):
        airports.update("f" * 32, {"name": "x"}, idempotency_key="k")
    with pytest.raises(NotFound):
        airports.update("nope", {"name": "x"})


def test_a_lookup_by_code_is_one_index_read_and_misses_a_code_that_moved(airports, airport_store):
    record = airports.create(name="Lisbon", iata="LIS")
    assert airports.list(iata="lis") == {"items": [record], "next_cursor": None}
    # the index entry read, then the record changed its code before it was read: not a match
    airport_store.redis.set(airport_store.keys("iata", "OPO"), record["id"])
    assert airports.list(iata="OPO") == {"items": [], "next_cursor": None}


def test_a_listing_that_asks_for_no_code_passes_none_to_the_service():
    """The gateway passes its loaded query as the call's arguments: without `iata`, none, so a
    gateway upgraded before the workers still lists airports with them."""
    assert AirportListQuery().load({}) == {"limit": 20, "cursor": None}
