"""A Python client generated from the document with openapi-python-client, used as generated
(no hand edits) against the live stack: uvicorn, the real workers, RabbitMQ and Redis."""

import importlib
import subprocess
import sys

import pytest

from tests.support.processes import BIN, ROOT


@pytest.fixture(scope="module")
def client_package(tmp_path_factory):
    out = tmp_path_factory.mktemp("generated")
    result = subprocess.run(
        [
            str(BIN / "openapi-python-client"),
            "generate",
            "--path",
            str(ROOT / "docs" / "openapi.json"),
            "--meta",
            "none",
            "--output-path",
            str(out / "travel_client"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": f"{BIN}:/usr/bin:/bin"},  # the generator formats its output with ruff
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning" not in (result.stdout + result.stderr).lower(), result.stdout + result.stderr
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module("travel_client")
    finally:
        sys.path.remove(str(out))
        for name in [n for n in sys.modules if n == "travel_client" or n.startswith("travel_client.")]:
            del sys.modules[name]


def module(package, name):
    return importlib.import_module(f"{package.__name__}.{name}")


def test_the_generated_client_works_against_the_live_stack(client_package, live_gateway, unique_iata):
    client = client_package.Client(base_url=live_gateway, raise_on_unexpected_status=True)
    airports = {
        name: module(client_package, f"api.airports.{name}")
        for name in ("create_airport", "get_airport", "update_airport", "list_airports", "delete_airport")
    }
    trips = {
        name: module(client_package, f"api.trips.{name}")
        for name in ("create_trip", "get_trip", "update_trip", "list_trips", "list_airport_trips", "delete_trip")
    }
    models = module(client_package, "models")

    code = unique_iata()
    lisbon = airports["create_airport"].sync(client=client, body=models.AirportCreate(name="Lisbon", iata=code))
    porto = airports["create_airport"].sync(
        client=client, body=models.AirportCreate(name="Porto"), idempotency_key='"porto-1"'
    )
    assert isinstance(lisbon, models.Airport) and lisbon.name == "Lisbon"
    again = airports["create_airport"].sync(
        client=client, body=models.AirportCreate(name="Porto"), idempotency_key='"porto-1"'
    )
    assert again.id == porto.id

    fetched = airports["get_airport"].sync_detailed(client=client, airport_id=lisbon.id)
    assert fetched.status_code == 200 and fetched.parsed.id == lisbon.id
    seen, cursor = set(), module(client_package, "types").UNSET
    while True:  # the session's other tests made airports too: walk every page
        page = airports["list_airports"].sync(client=client, limit=100, cursor=cursor)
        assert isinstance(page, models.AirportPage)
        seen |= {a.id for a in page.items}
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert {lisbon.id, porto.id} <= seen

    trip = trips["create_trip"].sync(client=client, body=models.TripCreate(airport_from=lisbon.id, airport_to=porto.id))
    assert isinstance(trip, models.Trip)
    assert trips["get_trip"].sync(client=client, trip_id=trip.id).airport_to == porto.id
    listed = trips["list_trips"].sync(client=client, airport=porto.id)
    assert [t.id for t in listed.items] == [trip.id]

    # find an airport by its code (in any case); list an airport's trips
    found = airports["list_airports"].sync(client=client, iata=code.lower())
    assert [a.id for a in found.items] == [lisbon.id]
    of_lisbon = trips["list_airport_trips"].sync(client=client, airport_id=lisbon.id)
    assert [t.id for t in of_lisbon.items] == [trip.id]

    # change with If-Match: the current ETag changes it; a stale one is 412 and changes nothing
    etag = fetched.headers["etag"]
    renamed = airports["update_airport"].sync_detailed(
        client=client, airport_id=lisbon.id, body=models.AirportUpdate(name="Lisboa"), if_match=etag
    )
    assert renamed.status_code == 200 and renamed.parsed.name == "Lisboa"
    assert renamed.headers["etag"] != etag
    stale = airports["update_airport"].sync_detailed(
        client=client, airport_id=lisbon.id, body=models.AirportUpdate(name="Lisbon"), if_match=etag
    )
    assert stale.status_code == 412 and isinstance(stale.parsed, models.Problem)
    assert airports["get_airport"].sync(client=client, airport_id=lisbon.id).name == "Lisboa"

    # a trip's destination changes: the old airport is free, the new one held
    faro = airports["create_airport"].sync(client=client, body=models.AirportCreate(name="Faro"))
    trip_etag = trips["get_trip"].sync_detailed(client=client, trip_id=trip.id).headers["etag"]
    moved = trips["update_trip"].sync_detailed(
        client=client, trip_id=trip.id, body=models.TripUpdate(airport_to=faro.id), if_match=trip_etag
    )
    assert moved.status_code == 200 and moved.parsed.airport_to == faro.id
    assert airports["delete_airport"].sync_detailed(client=client, airport_id=faro.id).status_code == 409
    trips["update_trip"].sync(client=client, trip_id=trip.id, body=models.TripUpdate(airport_to=porto.id))
    assert airports["delete_airport"].sync_detailed(client=client, airport_id=faro.id).status_code == 204

    refused = airports["delete_airport"].sync_detailed(client=client, airport_id=lisbon.id)
    assert refused.status_code == 409 and isinstance(refused.parsed, models.Problem)
    assert trips["delete_trip"].sync_detailed(client=client, trip_id=trip.id).status_code == 204
    assert airports["delete_airport"].sync_detailed(client=client, airport_id=lisbon.id).status_code == 204

    missing = airports["get_airport"].sync_detailed(client=client, airport_id=lisbon.id)
    assert missing.status_code == 404 and missing.parsed.status == 404
    invalid = trips["create_trip"].sync_detailed(
        client=client, body=models.TripCreate(airport_from=porto.id, airport_to=porto.id)
    )
    assert invalid.status_code == 422
    assert invalid.parsed.errors.additional_properties == {"airport_to": ["Must differ from airport_from."]}
