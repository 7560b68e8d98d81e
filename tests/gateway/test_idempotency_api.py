"""Idempotency-Key on POST (draft-ietf-httpapi-idempotency-key-header), through both apps, over the
real services in this process (the fast tier): the keys are claimed on each call's correlation id."""

import hashlib
import uuid
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest

pytestmark = pytest.mark.fast


@pytest.fixture
def key():
    return uuid.uuid4().hex


@pytest.mark.parametrize("quoted", [False, True])
def test_a_replay_returns_the_first_response(api, key, quoted):
    header = f'"{key}"' if quoted else key
    first = api.post("/airports", json={"name": "Once"}, headers={"Idempotency-Key": header})
    again = api.post("/airports", json={"name": "Once"}, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert first.json == again.json
    assert first.headers["location"] == again.headers["location"]


def test_the_same_key_with_another_body_is_422(api, assert_problem, key):
    api.post("/airports", json={"name": "First"}, headers={"Idempotency-Key": key})
    problem = assert_problem(api.post("/airports", json={"name": "Second"}, headers={"Idempotency-Key": key}), 422)
    assert problem["type"].endswith(":idempotency-key-reused")


def test_trips_are_idempotent_too(api, airport, key):
    body = {"airport_from": airport()["id"], "airport_to": airport()["id"]}
    first = api.post("/trips", json=body, headers={"Idempotency-Key": key})
    again = api.post("/trips", json=body, headers={"Idempotency-Key": key})
    assert first.json == again.json
    listed = api.get("/trips", params={"airport": body["airport_from"]}).json["items"]
    assert [t["id"] for t in listed] == [first.json["id"]]


def test_concurrent_duplicates_create_one_airport(api, key):
    name = f"concurrent {key}"

    def post(_):
        return api.post("/airports", json={"name": name}, headers={"Idempotency-Key": key})

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(post, range(8)))
    assert {r.status_code for r in results} <= {201, 409}
    created = {r.json["id"] for r in results if r.status_code == 201}
    assert len(created) == 1
    for conflict in (r for r in results if r.status_code == 409):
        assert conflict.json["type"].endswith(":idempotency-key-in-use")
        assert conflict.headers["retry-after"]


def test_a_request_still_in_progress_makes_its_duplicate_409(api, assert_problem, key, redis_client, redis_prefix):
    # The first request's pending entry, as airports_service writes it while creating.
    entry_key = f"{redis_prefix}{{airports}}:idempotency:" + hashlib.sha256(f"key:{key}".encode()).hexdigest()
    fingerprint = hashlib.sha256(orjson.dumps({"iata": None, "name": "Slow"}, option=orjson.OPT_SORT_KEYS)).hexdigest()
    redis_client.set(
        entry_key, orjson.dumps({"state": "pending", "fp": fingerprint, "owner": "elsewhere", "token": "t"}), ex=30
    )
    problem = assert_problem(api.post("/airports", json={"name": "Slow"}, headers={"Idempotency-Key": key}), 409)
    assert problem["type"].endswith(":idempotency-key-in-use")
