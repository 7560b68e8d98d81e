"""PATCH /airports/{id} through both apps, over the real services in this process (the fast tier):
JSON Merge Patch, If-Match and 412, the IATA index following, Idempotency-Key."""

import uuid

import pytest

pytestmark = pytest.mark.fast

MERGE_PATCH = {"content-type": "application/merge-patch+json"}


def patch(api, airport_id, body, **headers):
    return api.request("PATCH", f"/airports/{airport_id}", json=body, headers={**MERGE_PATCH, **headers})


def test_a_patch_changes_what_it_names_and_answers_the_airport_with_its_new_etag(api, airport, unique_iata):
    record = airport(name="Lisbon", iata=unique_iata())
    changed = patch(api, record["id"], {"name": " Lisboa "})
    assert changed.status_code == 200, changed.text
    assert changed.json == {**record, "name": "Lisboa"}
    fetched = api.get(f"/airports/{record['id']}")
    assert fetched.json == changed.json
    assert changed.headers["etag"] == fetched.headers["etag"] != api.get(f"/airports/{airport()['id']}").headers["etag"]


def test_application_json_is_taken_too_and_an_empty_patch_changes_nothing(api, airport):
    record = airport()
    same = api.request("PATCH", f"/airports/{record['id']}", json={})
    assert same.status_code == 200 and same.json == record


def test_if_match_with_the_current_etag_changes_and_a_stale_one_is_412_changing_nothing(api, assert_problem, airport):
    created = api.post("/airports", json={"name": "Porto"})
    record, first_etag = created.json, created.headers["etag"]
    changed = patch(api, record["id"], {"name": "Oporto"}, **{"If-Match": first_etag})
    assert changed.status_code == 200
    stale = patch(api, record["id"], {"name": "Porto again"}, **{"If-Match": first_etag})
    problem = assert_problem(stale, 412, title="Precondition Failed")
    assert "GET it again" in problem["detail"]
    assert api.get(f"/airports/{record['id']}").json["name"] == "Oporto"
    listed = patch(api, record["id"], {"name": "Porto"}, **{"If-Match": f'"stale", {changed.headers["etag"]}'})
    assert listed.status_code == 200  # any tag of the list may match


def test_if_match_star_holds_and_a_weak_tag_never_does(api, assert_problem, airport):
    record = airport()
    etag = api.get(f"/airports/{record['id']}").headers["etag"]
    assert_problem(patch(api, record["id"], {"name": "Weak"}, **{"If-Match": "W/" + etag}), 412)
    assert patch(api, record["id"], {"name": "Any"}, **{"If-Match": "*"}).status_code == 200


@pytest.mark.parametrize("value", ['"abc', "*, *", '"a" "b"', "a b"])
def test_a_malformed_if_match_is_400(api, assert_problem, airport, value):
    record = airport()
    assert_problem(patch(api, record["id"], {"name": "x"}, **{"If-Match": value}), 400)
    assert api.get(f"/airports/{record['id']}").json == record


def test_the_iata_code_can_be_set_changed_and_removed_and_the_index_follows(api, airport, unique_iata):
    record = airport()
    first, second = unique_iata(), unique_iata()
    assert patch(api, record["id"], {"iata": first}).json["iata"] == first
    assert api.post("/airports", json={"name": "Refused", "iata": first}).status_code == 409
    assert patch(api, record["id"], {"iata": second}).json["iata"] == second
    # the old code is free again, the new one is taken
    assert api.post("/airports", json={"name": "Taker", "iata": first}).status_code == 201
    assert api.post("/airports", json={"name": "Refused", "iata": second}).status_code == 409
    assert patch(api, record["id"], {"iata": None}).json["iata"] is None
    assert api.post("/airports", json={"name": "Taker 2", "iata": second}).status_code == 201


def test_a_code_another_airport_holds_is_409_naming_it_and_changes_nothing(api, assert_problem, airport, unique_iata):
    holder, record = airport(iata=unique_iata()), airport(iata=unique_iata())
    refused = patch(api, record["id"], {"name": "Renamed", "iata": holder["iata"]})
    problem = assert_problem(refused, 409, type="tag:nameko-travel,2026:conflict")
    assert problem["conflicts_with"] == {"airports": [holder["id"]]}
    assert api.get(f"/airports/{record['id']}").json == record
    assert patch(api, record["id"], {"iata": record["iata"]}).status_code == 200  # its own code: no conflict


@pytest.mark.parametrize("airport_id", ["f" * 32, "nope", "f" * 32 + "%0A"])
def test_an_unknown_airport_is_404(api, assert_problem, airport_id):
    assert_problem(patch(api, airport_id, {"name": "x"}), 404)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": None}, "name"),  # a name is never none
        ({"name": "Lis\nbon"}, "name"),
        ({"name": "\u202eX"}, "name"),
        ({"iata": "lis"}, "iata"),
        ({"iata": "LIS\n"}, "iata"),
        ({"id": "f" * 32}, "id"),  # read-only
        ({"created_at": "2026-01-01T00:00:00.000Z"}, "created_at"),
        ([], "_schema"),
        ("Lisboa", "_schema"),
    ],
)
def test_an_invalid_patch_is_422_naming_the_field_and_changes_nothing(api, assert_problem, airport, body, field):
    record = airport()
    problem = assert_problem(patch(api, record["id"], body), 422)
    assert field in problem["errors"]
    assert api.get(f"/airports/{record['id']}").json == record


def test_a_body_that_is_not_json_is_415(api, assert_problem, airport):
    result = api.request(
        "PATCH", f"/airports/{airport()['id']}", body=b'{"name": "x"}', headers={"content-type": "text/plain"}
    )
    assert_problem(result, 415)


def test_an_idempotency_key_replays_the_first_answer(api, assert_problem, airport):
    record = airport()
    etag = api.get(f"/airports/{record['id']}").headers["etag"]
    headers = {"Idempotency-Key": '"' + uuid.uuid4().hex + '"', "If-Match": etag}
    first = patch(api, record["id"], {"name": "Once"}, **headers)
    again = patch(api, record["id"], {"name": "Once"}, **headers)  # the ETag is stale now: a replay, not a 412
    assert first.status_code == again.status_code == 200
    assert again.json == first.json and again.headers["etag"] == first.headers["etag"]
    other = patch(api, record["id"], {"name": "Twice"}, **headers)
    assert_problem(other, 422, type="tag:nameko-travel,2026:idempotency-key-reused")


def test_a_renamed_airport_keeps_its_trips(api, trip):
    used = trip()
    assert patch(api, used["airport_from"], {"name": "Renamed"}).status_code == 200
    assert api.get(f"/trips/{used['id']}").json == used
    assert api.delete(f"/airports/{used['airport_from']}").status_code == 409


def test_the_lookup_by_code_follows_a_change_of_code(api, airport, unique_iata):
    record = airport(iata=unique_iata())
    old, new = record["iata"], unique_iata()
    changed = patch(api, record["id"], {"iata": new}).json
    assert api.get("/airports", params={"iata": old}).json["items"] == []
    assert api.get("/airports", params={"iata": new.lower()}).json["items"] == [changed]
