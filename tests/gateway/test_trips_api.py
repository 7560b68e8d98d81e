"""/trips through both apps, over the real services in this process (the fast tier)."""

import pytest

pytestmark = pytest.mark.fast


def test_create_answers_201_with_location(api, airport):
    a, b = airport()["id"], airport()["id"]
    result = api.post("/trips", json={"airport_from": a, "airport_to": b})
    assert result.status_code == 201
    trip = result.json
    assert (trip["airport_from"], trip["airport_to"]) == (a, b)
    assert result.headers["location"] == f"/trips/{trip['id']}"
    fetched = api.get(result.headers["location"])
    assert fetched.json == trip and fetched.headers["etag"] == result.headers["etag"]


def test_a_trip_to_a_missing_airport_is_422_naming_the_field(api, assert_problem, airport):
    a = airport()["id"]
    problem = assert_problem(api.post("/trips", json={"airport_from": a, "airport_to": "0" * 32}), 422)
    assert set(problem["errors"]) == {"airport_to"}
    problem = assert_problem(api.post("/trips", json={"airport_from": "0" * 32, "airport_to": a}), 422)
    assert set(problem["errors"]) == {"airport_from"}


def test_a_trip_to_itself_is_422_naming_airport_to(api, assert_problem, airport):
    a = airport()["id"]
    problem = assert_problem(api.post("/trips", json={"airport_from": a, "airport_to": a}), 422)
    assert problem["errors"] == {"airport_to": ["Must differ from airport_from."]}


@pytest.mark.parametrize(
    "body, fields",
    [
        ({}, {"airport_from", "airport_to"}),
        ({"airport_from": "x", "airport_to": 5}, {"airport_from", "airport_to"}),
        ({"airport_from": "a" * 32, "airport_to": "b" * 32, "when": "now"}, {"when"}),
        ({"airport_from": "a" * 32 + "\n", "airport_to": "b" * 32}, {"airport_from"}),
    ],
)
def test_invalid_trip_bodies_are_422(api, assert_problem, body, fields):
    assert set(assert_problem(api.post("/trips", json=body), 422)["errors"]) == fields


def test_list_filters_by_airport(api, assert_problem, airport, trip):
    hub = airport()["id"]
    outbound, inbound, elsewhere = trip(airport_from=hub), trip(airport_to=hub), trip()
    ids = [t["id"] for t in api.get("/trips", params={"airport": hub}).json["items"]]
    assert ids == [outbound["id"], inbound["id"]]
    assert elsewhere["id"] not in ids
    assert api.get("/trips", params={"airport": "c" * 32}).json == {"items": [], "next_cursor": None}
    assert "airport" in assert_problem(api.get("/trips", params={"airport": "nope"}), 422)["errors"]
    assert "airport" in assert_problem(api.get("/trips", query_string="airport=" + "c" * 32 + "%0A"), 422)["errors"]


def test_a_cursor_from_another_listing_is_422(api, assert_problem, airport, trip):
    hub = airport()["id"]
    trip(airport_from=hub)
    trip(airport_from=hub)
    cursor = api.get("/trips", params={"airport": hub, "limit": 1}).json["next_cursor"]
    assert cursor
    assert_problem(api.get("/trips", params={"cursor": cursor}), 422)
    assert_problem(api.get("/airports", params={"cursor": cursor}), 422)


def test_delete_answers_204_then_404(api, assert_problem, trip):
    record = trip()
    assert api.delete(f"/trips/{record['id']}").status_code == 204
    assert_problem(api.get(f"/trips/{record['id']}"), 404)
    assert_problem(api.delete(f"/trips/{record['id']}"), 404)


def test_unknown_trips_are_404(api, assert_problem):
    assert_problem(api.get("/trips/" + "e" * 32), 404)
    assert_problem(api.get("/trips/../../etc/passwd"), 404)
