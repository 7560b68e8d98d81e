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
    assert_problem(api.get("/trips", params={"airport": "c" * 32}), 404)  # no such airport
    assert "airport" in assert_problem(api.get("/trips", params={"airport": "nope"}), 422)["errors"]
    assert "airport" in assert_problem(api.get("/trips", query_string="airport=" + "c" * 32 + "%0A"), 422)["errors"]


def test_an_airports_trips_are_its_sub_resource_paged(api, airport, trip):
    hub = airport()["id"]
    made = [trip(airport_from=hub)["id"], trip(airport_to=hub)["id"], trip(airport_from=hub)["id"]]
    trip()  # elsewhere
    first = api.get(f"/airports/{hub}/trips", params={"limit": 2})
    assert first.status_code == 200 and [t["id"] for t in first.json["items"]] == made[:2]
    rest = api.get(f"/airports/{hub}/trips", params={"limit": 2, "cursor": first.json["next_cursor"]}).json
    assert [t["id"] for t in rest["items"]] == made[2:] and rest["next_cursor"] is None
    assert api.get("/trips", params={"airport": hub}).json["items"] == api.get(f"/airports/{hub}/trips").json["items"]


def test_an_airport_without_trips_has_an_empty_list(api, airport):
    assert api.get(f"/airports/{airport()['id']}/trips").json == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("airport_id", ["c" * 32, "nope", "c" * 32 + "%0A"])
def test_the_trips_of_an_unknown_airport_are_404(api, assert_problem, airport_id):
    problem = assert_problem(api.get(f"/airports/{airport_id}/trips"), 404)
    assert "no airport" in problem["detail"]


@pytest.mark.parametrize("query, field", [("limit=0", "limit"), ("cursor=nope", "cursor"), ("airport=x", "airport")])
def test_bad_queries_of_an_airports_trips_are_422(api, assert_problem, airport, query, field):
    problem = assert_problem(api.get(f"/airports/{airport()['id']}/trips", query_string=query), 422)
    assert field in problem["errors"]


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
