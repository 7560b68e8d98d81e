"""/airports through both apps, over the real services in this process (the fast tier)."""

import re
import uuid

import pytest

pytestmark = pytest.mark.fast


def test_create_answers_201_with_location_and_the_record(api, unique_iata):
    iata = unique_iata()
    result = api.post("/airports", json={"name": " Lisbon ", "iata": iata})
    assert result.status_code == 201
    record = result.json
    assert record["name"] == "Lisbon" and record["iata"] == iata
    assert re.fullmatch(r"[0-9a-f]{32}", record["id"])
    assert result.headers["location"] == f"/airports/{record['id']}"
    fetched = api.get(result.headers["location"])
    assert fetched.json == record
    assert result.headers["etag"] == fetched.headers["etag"]  # ready for an If-Match


def test_get_has_an_etag_and_honours_if_none_match(api, airport):
    record = airport()
    first = api.get(f"/airports/{record['id']}")
    assert first.status_code == 200 and first.json == record
    etag = first.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    assert api.get(f"/airports/{record['id']}").headers["etag"] == etag  # stable
    unchanged = api.get(f"/airports/{record['id']}", headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.text == "" and unchanged.headers["etag"] == etag
    assert api.get(f"/airports/{record['id']}", headers={"If-None-Match": f'"x", W/{etag}'}).status_code == 304
    assert api.get(f"/airports/{record['id']}", headers={"If-None-Match": '"other"'}).status_code == 200


@pytest.mark.parametrize("airport_id", ["f" * 32, "nope", "F" * 32, "x" * 5000, "%2A", "f" * 32 + "%0A"])
def test_unknown_or_malformed_ids_are_404(api, assert_problem, airport_id):
    assert_problem(api.get(f"/airports/{airport_id}"), 404)
    assert_problem(api.delete(f"/airports/{airport_id}"), 404)


def test_delete_answers_204_then_404(api, airport, assert_problem):
    record = airport()
    result = api.delete(f"/airports/{record['id']}")
    assert result.status_code == 204 and result.text == ""
    assert_problem(api.get(f"/airports/{record['id']}"), 404)
    assert_problem(api.delete(f"/airports/{record['id']}"), 404)


def test_an_airport_used_by_a_trip_cannot_be_deleted(api, trip, assert_problem):
    used = trip()
    problem = assert_problem(api.delete(f"/airports/{used['airport_from']}"), 409)
    assert problem["type"].endswith(":conflict")
    assert problem["conflicts_with"] == {"trips": [used["id"]]}
    assert api.delete(f"/trips/{used['id']}").status_code == 204
    assert api.delete(f"/airports/{used['airport_from']}").status_code == 204


def test_a_duplicate_iata_code_is_409(api, airport, assert_problem, unique_iata):
    holder = airport(iata=unique_iata())
    refused = api.post("/airports", json={"name": "Other", "iata": holder["iata"]})
    problem = assert_problem(refused, 409, type="tag:nameko-travel,2026:conflict")
    assert problem["conflicts_with"] == {"airports": [holder["id"]]}
    assert holder["id"] in problem["detail"]
    assert "retry-after" not in refused.headers  # only a key still in use says when to retry


def test_an_airport_without_iata_has_null(api):
    created = api.post("/airports", json={"name": "Nowhere in particular"})
    assert created.status_code == 201 and created.json["iata"] is None


@pytest.mark.parametrize(
    "body, fields",
    [
        ({}, {"name"}),
        ({"name": ""}, {"name"}),
        ({"name": "x" * 121}, {"name"}),
        ({"name": 42}, {"name"}),
        ({"name": "ok", "iata": "lis"}, {"iata"}),
        ({"name": "ok", "iata": "LIS\n"}, {"iata"}),
        ({"name": "ok", "iata": 123}, {"iata"}),
        ({"name": "ok", "colour": "red"}, {"colour"}),
        ([], {"_schema"}),
        ("just a string", {"_schema"}),
    ],
)
def test_invalid_bodies_are_422_naming_each_field(api, assert_problem, body, fields):
    problem = assert_problem(api.post("/airports", json=body), 422)
    assert problem["type"].endswith(":validation-error")
    assert set(problem["errors"]) == fields
    assert all(isinstance(m, str) for messages in problem["errors"].values() for m in messages)


@pytest.mark.parametrize(
    "body", [b"{", b"{'name': 'x'}", b"\xff\xfe", b"[" * 5000 + b"]" * 5000, b'{"name": 1e999999}']
)
def test_malformed_json_is_400(api, assert_problem, body):
    assert_problem(api.post("/airports", body=body, headers={"content-type": "application/json"}), 400)


@pytest.mark.parametrize(
    "path, body",
    [
        ("/airports", b'{"name": "Lisbon", "name": "Porto"}'),
        ("/airports", b'{"name": "Lisbon", "iata": "LIS", "iata": null}'),
        ("/airports", b'[{"name": "x"}, {"a": 1, "b": {"c": 1, "c": 2}}]'),
        ("/airport", b'{"airport": "a", "airport": "b"}'),  # the article's route too
    ],
)
def test_a_member_name_twice_in_one_object_is_400(api, assert_problem, path, body):
    """I-JSON (RFC 7493): names are unique; not "the last one wins" silently."""
    problem = assert_problem(api.post(path, body=body, headers={"content-type": "application/json"}), 400)
    assert "twice in one object" in problem["detail"]


def test_the_same_name_in_different_objects_is_fine(api):
    body = b'[{"name": "x"}, {"name": "y"}]'  # a 422 (not an object), but no duplicate member
    assert api.post("/airports", body=body, headers={"content-type": "application/json"}).status_code == 422


def test_an_empty_body_is_400(api, assert_problem):
    assert_problem(api.post("/airports", headers={"content-type": "application/json"}), 400)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_a_body_that_is_not_json_is_415(api, assert_problem, content_type):
    assert_problem(api.post("/airports", body=b'{"name": "x"}', headers={"content-type": content_type}), 415)


def test_json_media_types_with_a_charset_or_suffix_are_accepted(api):
    for content_type in ["application/json; charset=utf-8", "application/problem+json"]:
        result = api.post("/airports", body=b'{"name": "x"}', headers={"content-type": content_type})
        assert result.status_code == 201, result.text


def test_a_body_over_the_limit_is_413(api, assert_problem):
    big = b'{"name": "' + b"x" * 70000 + b'"}'
    assert_problem(api.post("/airports", body=big, headers={"content-type": "application/json"}), 413)


def test_list_walks_every_airport_once(api, airport):
    created = {airport(name=f"walk {i}")["id"] for i in range(7)}
    seen, cursor = [], None
    while True:
        result = api.get("/airports", params={"limit": 3, **({"cursor": cursor} if cursor else {})})
        assert result.status_code == 200
        assert len(result.json["items"]) <= 3
        seen += [item["id"] for item in result.json["items"]]
        cursor = result.json["next_cursor"]
        if cursor is None:
            break
    assert created <= set(seen)
    assert len(seen) == len(set(seen))


def test_the_default_page_size_is_20(api, airport):
    for i in range(21):
        airport(name=f"page {i}")
    page = api.get("/airports").json
    assert len(page["items"]) == 20 and page["next_cursor"]


@pytest.mark.parametrize(
    "query, field",
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=-1", "limit"),
        ("limit=ten", "limit"),
        ("limit=99999999999999999999999", "limit"),
        ("limit=1&limit=2", "limit"),
        ("cursor=not-ours", "cursor"),
        ("cursor=" + "a" * 300, "cursor"),
        ("colour=red", "colour"),
    ],
)
def test_bad_list_queries_are_422(api, assert_problem, query, field):
    problem = assert_problem(api.get("/airports", query_string=query), 422)
    assert field in problem["errors"]


# Names refused, each for a reason the rule names (schemas/names.py), and names accepted.
REFUSED_NAMES = [
    " ",  # no visible character
    "\u3000\u00a0",
    "\ufeff",
    "\u2003\u2028",
    "\u200b\u200d\u2060",  # zero-width characters only
    "\u3164",  # a Hangul filler, blank
    "\n",  # control characters (Cc), tab and newline included
    "\t\r\n ",
    "Lisbon\n",
    "\tLisbon",
    "Lis\x00bon",
    "\x1c",
    "\x85",
    "Lis\x7fbon",
    "\u202eNOBSIL",  # bidirectional controls: RIGHT-TO-LEFT OVERRIDE, isolates, marks
    "Lisbon\u2066x\u2069",
    "Lis\u200fbon",
]
NAMES = [
    " Porto ",
    "\u2003Faro\u2028",
    "A",
    "\U0001f469\u200d\u2708\ufe0f Pilots",  # an emoji ZWJ sequence, with its variation selector
    "\U0001f3f3\ufe0f\u200d\U0001f308",
    "\u05ea\u05dc \u05d0\u05d1\u05d9\u05d1",  # Hebrew, right to left
    "\u0645\u0637\u0627\u0631 \u062f\u0628\u064a",  # Arabic
    "S\u00e3o Paulo\u2013Guarulhos",
    "\u00e5\u00ad",  # a soft hyphen beside a visible letter
]


@pytest.mark.parametrize("name", REFUSED_NAMES + NAMES)
def test_a_name_is_accepted_exactly_when_the_documented_schema_accepts_it(api, name):
    """The name rule is a pattern in the document, and the server's rule is that pattern: a
    client that validates against the schema never gets a 422 for a name, nor is refused one."""
    from jsonschema import Draft202012Validator

    from gateway.openapi import document

    schemas = document()["components"]["schemas"]
    for path, schema, body, success in [
        ("/airports", schemas["AirportCreate"], {"name": name}, 201),
        ("/airport", schemas["LegacyAirportCreate"], {"airport": name}, 200),
    ]:
        documented_valid = Draft202012Validator(schema).is_valid(body)
        assert documented_valid == (name in NAMES), (path, repr(name))
        result = api.post(path, json=body)
        assert result.status_code == (success if documented_valid else 422), (path, result.text)
        if path == "/airports" and documented_valid:
            stored = result.json["name"]
            assert stored == name.strip(" \u2003\u2028"), repr(stored)


@pytest.mark.parametrize(
    "name, message",
    [
        ("Lisbon\n", "Must not contain control characters (such as tab or newline): U+000A."),
        ("\u202eNOBSIL", "Must not contain bidirectional control characters: U+202E."),
        ("\u200d\ufe0f", "Must contain a visible character."),
    ],
)
def test_a_refused_name_says_why(api, assert_problem, name, message):
    assert assert_problem(api.post("/airports", json={"name": name}), 422)["errors"] == {"name": [message]}


def test_names_are_stored_in_nfc(api):
    decomposed = "Sa\u0303o Paulo"  # a, then COMBINING TILDE
    created = api.post("/airports", json={"name": decomposed})
    assert created.status_code == 201
    assert created.json["name"] == "S\u00e3o Paulo"
    assert api.get(created.headers["location"]).json["name"] == "S\u00e3o Paulo"


def test_an_idempotent_retry_in_another_normal_form_is_the_same_request(api):
    key = {"Idempotency-Key": '"nfc-' + uuid.uuid4().hex + '"'}
    first = api.post("/airports", json={"name": "Sa\u0303o Paulo"}, headers=key)
    again = api.post("/airports", json={"name": "S\u00e3o Paulo"}, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json == first.json


@pytest.mark.parametrize("spelt", [str.upper, str.lower, str.title])
def test_an_airport_is_found_by_its_iata_code_in_any_case(api, airport, unique_iata, spelt):
    record = airport(name="Found", iata=unique_iata())
    page = api.get("/airports", params={"iata": spelt(record["iata"])})
    assert page.status_code == 200
    assert page.json == {"items": [record], "next_cursor": None}


def test_a_code_nobody_holds_finds_an_empty_page(api, airport, unique_iata):
    code = unique_iata()
    assert api.get("/airports", params={"iata": code}).json == {"items": [], "next_cursor": None}
    record = airport(iata=code)
    assert api.get("/airports", params={"iata": code}).json["items"] == [record]
    api.delete(f"/airports/{record['id']}")
    assert api.get("/airports", params={"iata": code}).json["items"] == []


@pytest.mark.parametrize(
    "query", ["iata=LI", "iata=LISB", "iata=L1S", "iata=LIS%0A", "iata=%C3%89VR", "iata=LIS&cursor=abc"]
)
def test_a_malformed_lookup_is_422(api, assert_problem, query):
    problem = assert_problem(api.get("/airports", query_string=query), 422)
    assert set(problem["errors"]) <= {"iata", "cursor"}
