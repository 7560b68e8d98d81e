"""PATCH /trips/{id} through both apps, over the real services in this process (the fast tier): a
trip's airports change, held before and released after; If-Match and 412; Idempotency-Key."""

import uuid

import pytest

pytestmark = pytest.mark.fast

MERGE_PATCH = {"content-type": "application/merge-patch+json"}


def patch(api, trip_id, body, **headers):
    return api.request("PATCH", f"/trips/{trip_id}", json=body, headers={**MERGE_PATCH, **headers})


def test_a_trips_destination_changes_and_its_airports_follow(api, assert_problem, airport, trip):
    made, elsewhere = trip(), airport()["id"]
    changed = patch(api, made["id"], {"airport_to": elsewhere})
    assert changed.status_code == 200, changed.text
    assert changed.json == {**made, "airport_to": elsewhere}
    fetched = api.get(f"/trips/{made['id']}")
    assert fetched.json == changed.json and fetched.headers["etag"] == changed.headers["etag"]
    # the old airport can be deleted; the new one cannot: the trip holds it
    assert api.delete(f"/airports/{made['airport_to']}").status_code == 204
    problem = assert_problem(api.delete(f"/airports/{elsewhere}"), 409)
    assert problem["conflicts_with"] == {"trips": [made["id"]]}
    assert [t["id"] for t in api.get("/trips", params={"airport": elsewhere}).json["items"]] == [made["id"]]


def test_both_ends_can_change_at_once(api, airport, trip):
    made = trip()
    new_from, new_to = airport()["id"], airport()["id"]
    changed = patch(api, made["id"], {"airport_from": new_from, "airport_to": new_to})
    assert changed.json == {**made, "airport_from": new_from, "airport_to": new_to}
    for old in (made["airport_from"], made["airport_to"]):
        assert api.delete(f"/airports/{old}").status_code == 204


def test_if_match_with_the_current_etag_changes_and_a_stale_one_is_412(api, assert_problem, airport, trip):
    created = api.post("/trips", json={"airport_from": airport()["id"], "airport_to": airport()["id"]})
    made, etag = created.json, created.headers["etag"]
    elsewhere = airport()["id"]
    assert patch(api, made["id"], {"airport_to": elsewhere}, **{"If-Match": etag}).status_code == 200
    problem = assert_problem(patch(api, made["id"], {"airport_to": made["airport_to"]}, **{"If-Match": etag}), 412)
    assert "trip has changed" in problem["detail"]
    assert api.get(f"/trips/{made['id']}").json["airport_to"] == elsewhere
    assert api.delete(f"/airports/{made['airport_to']}").status_code == 204  # the 412 held nothing


def test_a_missing_airport_is_422_naming_the_field_and_changes_nothing(api, assert_problem, trip):
    made = trip()
    problem = assert_problem(patch(api, made["id"], {"airport_from": "0" * 32}), 422)
    assert problem["errors"] == {"airport_from": ["No airport with this id."]}
    assert api.get(f"/trips/{made['id']}").json == made


def test_a_trip_to_where_it_starts_is_422(api, assert_problem, trip):
    made = trip()
    problem = assert_problem(patch(api, made["id"], {"airport_to": made["airport_from"]}), 422)
    assert problem["errors"] == {"airport_to": ["Must differ from airport_from."]}


@pytest.mark.parametrize(
    "body, field",
    [
        ({"airport_to": None}, "airport_to"),
        ({"airport_to": "nope"}, "airport_to"),
        ({"airport_to": "a" * 32 + "\n"}, "airport_to"),
        ({"id": "a" * 32}, "id"),
        ({"when": "now"}, "when"),
        ([], "_schema"),
    ],
)
def test_an_invalid_patch_is_422_naming_the_field(api, assert_problem, trip, body, field):
    made = trip()
    assert field in assert_problem(patch(api, made["id"], body), 422)["errors"]
    assert api.get(f"/trips/{made['id']}").json == made


@pytest.mark.parametrize("trip_id", ["e" * 32, "nope"])
def test_an_unknown_trip_is_404(api, assert_problem, airport, trip_id):
    assert_problem(patch(api, trip_id, {"airport_to": airport()["id"]}), 404)


def test_an_idempotency_key_replays_the_first_answer(api, assert_problem, airport, trip):
    made, elsewhere = trip(), airport()["id"]
    key = {"Idempotency-Key": '"' + uuid.uuid4().hex + '"'}
    first = patch(api, made["id"], {"airport_to": elsewhere}, **key)
    again = patch(api, made["id"], {"airport_to": elsewhere}, **key)
    assert first.status_code == again.status_code == 200 and again.json == first.json
    reused = patch(api, made["id"], {"airport_to": made["airport_to"]}, **key)
    assert_problem(reused, 422, type="tag:nameko-travel,2026:idempotency-key-reused")


def test_a_deleted_trip_that_changed_releases_its_new_airports(api, airport, trip):
    made, elsewhere = trip(), airport()["id"]
    assert patch(api, made["id"], {"airport_from": elsewhere}).status_code == 200
    assert api.delete(f"/trips/{made['id']}").status_code == 204
    for airport_id in (made["airport_from"], made["airport_to"], elsewhere):
        assert api.delete(f"/airports/{airport_id}").status_code == 204
