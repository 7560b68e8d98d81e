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
        ("PUT", "/airports/" + "a" * 32, {"GET", "PATCH", "DELETE"}),
        ("POST", "/trips/" + "a" * 32, {"GET", "DELETE"}),
        ("DELETE", "/health/ready", {"GET"}),
    ],
)
def test_wrong_methods_are_405_with_allow(api, assert_problem, method, path, allowed):
    result = api.request(method, path)
    assert_problem(result, 405)
    assert allowed <= {m.strip() for m in result.headers["allow"].split(",")}


@pytest.mark.parametrize("path", ["/airports", "/airports/" + "a" * 32, "/trips/" + "a" * 32, "/health/ready"])
def test_options_and_405_send_the_same_allow(api, path):
    options, refused = api.request("OPTIONS", path), api.request("PUT", path)
    assert options.status_code == 200 and refused.status_code == 405
    assert options.headers["allow"] == refused.headers["allow"]
    assert "OPTIONS" in options.headers["allow"].split(", ")


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


# Bodies that change between two requests, so their lengths may too.
CHANGING_BODIES = {"/metrics"}


def get_paths(airport_id, trip_id):
    """Every path the route table serves GET on, with its parameters filled in."""
    from gateway.routes import served_routes

    values = {"airport_id": airport_id, "trip_id": trip_id, "asset": "init.js"}
    return [path.format(**values) for path, operations in served_routes().items() if "GET" in operations]


def test_head_is_served_wherever_get_is_with_the_same_headers_and_no_body(api, trip):
    made = trip()
    paths = get_paths(made["airport_from"], made["id"])
    assert len(paths) > 10
    for path in paths:
        get, head = api.get(path), api.request("HEAD", path)
        assert head.status_code == get.status_code, path
        assert head.content == b"", path
        ignored = {"x-request-id", "content-length"}
        assert {k: v for k, v in head.headers.items() if k not in ignored} == {
            k: v for k, v in get.headers.items() if k not in ignored
        }, path
        if path not in CHANGING_BODIES:
            assert head.headers["content-length"] == str(len(get.content)), path


def test_head_answers_errors_and_conditionals_as_get_does(api, airport):
    missing = api.request("HEAD", "/airports/" + "0" * 32)
    assert missing.status_code == 404 and missing.content == b""
    assert missing.headers["content-type"] == "application/problem+json"
    path = f"/airports/{airport()['id']}"
    etag = api.get(path).headers["etag"]
    unchanged = api.request("HEAD", path, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.headers["etag"] == etag


def test_405_lists_head_wherever_get_is_served(api):
    allowed = {m.strip() for m in api.request("PUT", "/airports").headers["allow"].split(",")}
    assert {"GET", "HEAD", "POST"} <= allowed
    allowed = {m.strip() for m in api.request("PUT", "/trips/" + "a" * 32).headers["allow"].split(",")}
    assert {"GET", "HEAD", "DELETE"} <= allowed


def test_one_problem_one_wording_whoever_finds_it(api, airport):
    """The gateway and the services word the same problem the same way: an id that cannot be one
    (the gateway) and one that names nothing (the service); input the gateway's schema refuses and
    input the service refuses."""
    malformed, unknown = api.get("/airports/nope"), api.get("/airports/" + "0" * 32)
    assert malformed.status_code == unknown.status_code == 404
    assert malformed.json["detail"] == unknown.json["detail"]
    assert "check the id" in unknown.json["detail"]
    by_schema = api.post("/trips", json={"airport_from": "x"})
    by_service = api.post("/trips", json={"airport_from": airport()["id"], "airport_to": "0" * 32})
    assert by_schema.status_code == by_service.status_code == 422
    assert by_schema.json["detail"] == by_service.json["detail"]
    assert by_schema.json["title"] == by_service.json["title"] == "Unprocessable Content"


def test_the_root_links_where_to_start(api):
    root = api.get("/")
    assert root.status_code == 200 and root.headers["content-type"] == "application/json"
    links = {relation: link["href"] for relation, link in root.json["links"].items()}
    assert links == {
        "self": "/",
        "service-doc": "/docs",
        "service-desc": "/openapi.json",
        "airports": "/airports",
        "trips": "/trips",
    }
    assert root.headers["link"] == '</docs>; rel="service-doc", </openapi.json>; rel="service-desc"'
    for href in links.values():
        assert api.get(href).status_code == 200, href
