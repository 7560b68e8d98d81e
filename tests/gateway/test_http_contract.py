"""What every response shares: problem documents, request ids, routing errors, liveness (the fast
tier; readiness, which checks the broker, is in test_rest_over_broker.py)."""

import uuid

import pytest

pytestmark = pytest.mark.fast


def test_unknown_routes_are_404_problems(api, assert_problem):
    problem = assert_problem(api.get("/nowhere"), 404)
    assert problem["instance"] == "/nowhere"
    assert problem["type"] == "about:blank" and problem["title"] == "Not Found"


@pytest.mark.parametrize(
    "method, path, allowed",
    [
        ("PUT", "/airports", {"GET", "POST"}),
        ("PATCH", "/airports/" + "a" * 32, {"GET", "DELETE"}),
        ("POST", "/trips/" + "a" * 32, {"GET", "DELETE"}),
        ("DELETE", "/health/ready", {"GET"}),
    ],
)
def test_wrong_methods_are_405_with_allow(api, assert_problem, method, path, allowed):
    result = api.request(method, path)
    assert_problem(result, 405)
    assert allowed <= {m.strip() for m in result.headers["allow"].split(",")}


def test_a_given_request_id_is_echoed_and_reported(api):
    request_id = "req-" + uuid.uuid4().hex
    result = api.get("/airports/" + "0" * 32, headers={"X-Request-ID": request_id})
    assert result.headers["x-request-id"] == request_id
    assert result.json["request_id"] == request_id


@pytest.mark.parametrize("given", [None, "", "x" * 200, "two words", "évian"])
def test_a_missing_or_unusable_request_id_is_replaced(api, given):
    headers = {} if given is None else {"X-Request-ID": given}
    result = api.get("/health/live", headers=headers)
    generated = result.headers["x-request-id"]
    assert generated != given and len(generated) == 32


def test_liveness(api):
    result = api.get("/health/live")
    assert result.status_code == 200 and result.json["status"] == "ok"


@pytest.mark.parametrize("key", ["", "k" * 256, "tab\there", "\u00e9t\u00e9"])
def test_a_malformed_idempotency_key_is_400(api, assert_problem, key):
    result = api.post("/airports", json={"name": "x"}, headers={"Idempotency-Key": key})
    assert_problem(result, 400)
