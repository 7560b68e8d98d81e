"""Bearer-token auth (optional) and CORS (off by default), through both apps, over the real services
in this process (the fast tier). Secrets kept out of the logs: test_gateway_logs.py."""

import pytest

from tests.support.clients import in_process_api

pytestmark = pytest.mark.fast

TOKENS = "first-token,second-token"


@pytest.fixture(scope="module", params=["asgi", "wsgi"])
def secured(request, services):
    api = in_process_api(request.param, services, api_tokens=TOKENS)
    yield api
    api.close()


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_changes_need_a_token(secured, assert_problem):
    result = secured.post("/airports", json={"name": "Nope"})
    assert_problem(result, 401)
    assert result.headers["www-authenticate"] == 'Bearer realm="nameko-travel"'
    assert_problem(secured.post("/airport", body=b'{"airport": "x"}'), 401)
    assert_problem(secured.delete("/airports/" + "a" * 32), 401)


def test_a_wrong_token_is_refused_as_invalid(secured, assert_problem):
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


def test_a_change_needs_a_token_too(secured, assert_problem):
    created = secured.post("/airports", json={"name": "Mine"}, headers=bearer("first-token"))
    path = created.headers["location"]
    assert_problem(secured.request("PATCH", path, json={"name": "Yours"}), 401)
    assert secured.request("PATCH", path, json={"name": "Ours"}, headers=bearer("second-token")).status_code == 200


def test_the_served_document_says_which_operations_need_a_token(secured):
    doc = secured.get("/openapi.json").json
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": doc["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            needs = method in ("post", "patch", "delete")
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
def test_cors_allows_the_configured_origins(kind, make_api):
    api = make_api(kind, cors_origins="https://app.example")
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
