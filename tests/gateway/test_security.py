"""Bearer-token auth (optional), CORS (off by default) and secrets kept out of logs."""

import json
import re
import time
import urllib.error
import urllib.request

import pytest

from tests.conftest import settings_for
from tests.gateway.test_airports_api import assert_problem
from tests.support.clients import api_for
from tests.support.processes import start_gateway

TOKENS = "first-token,second-token"


@pytest.fixture(scope="module", params=["asgi", "wsgi"])
def secured(request, workers, amqp):
    api = api_for(request.param, settings_for(amqp, api_tokens=TOKENS))
    yield api
    api.close()


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_changes_need_a_token(secured):
    result = secured.post("/airports", json={"name": "Nope"})
    assert_problem(result, 401)
    assert result.headers["www-authenticate"] == 'Bearer realm="nameko-travel"'
    assert_problem(secured.post("/airport", body=b'{"airport": "x"}'), 401)
    assert_problem(secured.delete("/airports/" + "a" * 32), 401)


def test_a_wrong_token_is_refused_as_invalid(secured):
    result = secured.post("/airports", json={"name": "Nope"}, headers=bearer("guess"))
    assert_problem(result, 401)
    assert 'error="invalid_token"' in result.headers["www-authenticate"]
    assert_problem(
        secured.post("/airports", json={"name": "x"}, headers={"Authorization": "Basic Zmlyc3QtdG9rZW4="}), 401
    )


def test_any_configured_token_may_change_data_and_reads_stay_open(secured):
    created = secured.post("/airports", json={"name": "Yes"}, headers=bearer("second-token"))
    assert created.status_code == 201
    assert secured.get(created.headers["location"]).status_code == 200
    assert secured.delete(created.headers["location"], headers=bearer("first-token")).status_code == 204


def test_idempotency_keys_belong_to_their_client(secured):
    first = secured.post("/airports", json={"name": "A"}, headers={**bearer("first-token"), "Idempotency-Key": "k1"})
    other = secured.post("/airports", json={"name": "B"}, headers={**bearer("second-token"), "Idempotency-Key": "k1"})
    assert first.status_code == other.status_code == 201
    assert first.json["id"] != other.json["id"]


def test_the_served_document_says_which_operations_need_a_token(secured):
    doc = secured.get("/openapi.json").json
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": doc["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            needs = method in ("post", "delete")
            assert op["security"] == ([{"bearerAuth": []}] if needs else []), (path, method)
            assert ("401" in op["responses"]) == needs, (path, method)


def test_without_tokens_nothing_asks_for_one(api):
    assert api.post("/airports", json={"name": "Open"}).status_code == 201
    doc = api.get("/openapi.json").json
    assert "securitySchemes" not in doc.get("components", {})
    assert all(op["security"] == [] for methods in doc["paths"].values() for op in methods.values())


def test_cors_is_off_by_default(api):
    result = api.get("/health/live", headers={"Origin": "https://app.example"})
    assert "access-control-allow-origin" not in result.headers


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_cors_allows_the_configured_origins(kind, workers, amqp):
    api = api_for(kind, settings_for(amqp, cors_origins="https://app.example"))
    try:
        allowed = api.get("/health/live", headers={"Origin": "https://app.example"})
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        assert "x-request-id" in allowed.headers["access-control-expose-headers"].lower()
        preflight = api.request(
            "OPTIONS", "/airports", headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
        )
        assert preflight.status_code == 200
        assert "POST" in preflight.headers["access-control-allow-methods"]
        other = api.get("/health/live", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
    finally:
        api.close()


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_passwords_never_reach_the_logs(kind, stack_env, vhost):
    secret = "S3cret-Pa55"
    env = {**stack_env, "AMQP_URI": f"amqp://guest:{secret}@127.0.0.1:5672/{vhost}", "RPC_STARTUP_WAIT": "1"}
    process, url = start_gateway(kind, env)
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:  # the broker refuses that password
            urllib.request.urlopen(f"{url}/airports/" + "a" * 32, timeout=10)
        assert refused.value.code == 503
        time.sleep(0.5)
    finally:
        process.stop()
    output = process.output()
    assert secret not in output
    assert re.search(r"amqp://guest:\*\*\*@127\.0\.0\.1", output), output[-2000:]


def test_json_logs_carry_the_request_id(stack_env, workers):
    process, url = start_gateway("asgi", {**stack_env, "LOG_FORMAT": "json"})
    try:
        request = urllib.request.Request(f"{url}/health/live", headers={"X-Request-ID": "json-req-1"})
        urllib.request.urlopen(request, timeout=10).close()
        time.sleep(0.3)
    finally:
        process.stop()
    lines = [json.loads(line) for line in process.output().splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("request_id") == "json-req-1"]
    assert access and access[0]["logger"] == "gateway.access" and "GET /health/live 200" in access[0]["message"]
