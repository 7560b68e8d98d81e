"""The OpenAPI document: valid, complete, in sync with the committed copy and with the routes."""

import json
import subprocess
import sys

import pytest
import yaml
from openapi_spec_validator import validate

from gateway.openapi import document, render
from gateway.routes import API
from tests.support.processes import ROOT

COMMITTED = ROOT / "docs" / "openapi.json"
OPERATION_IDS = {
    "createAirport",
    "getAirport",
    "listAirports",
    "deleteAirport",
    "createTrip",
    "getTrip",
    "listTrips",
    "deleteTrip",
}
LEGACY_IDS = {"createAirportLegacy", "getAirportLegacy", "createTripLegacy", "getTripLegacy"}


@pytest.fixture(scope="module")
def doc():
    return document()


def operations(doc):
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            yield path, method, op


def resolve(doc, item):
    if "$ref" in item:
        section, name = item["$ref"].split("/")[-2:]
        return doc["components"][section][name]
    return item


def test_it_is_a_valid_openapi_3_1_document(doc):
    assert doc["openapi"] == "3.1.0"
    validate(doc)


def test_the_committed_copy_is_in_sync(doc):
    assert COMMITTED.read_bytes() == render(doc, "json"), (
        "docs/openapi.json is stale: run `python -m gateway.openapi --output docs/openapi.json`"
    )


def test_the_command_writes_it_without_a_server(tmp_path, doc):
    out = tmp_path / "openapi.yaml"
    subprocess.run(
        [sys.executable, "-m", "gateway.openapi", "--format", "yaml", "--output", str(out)],
        check=True,
        cwd=ROOT,
        timeout=60,
    )
    assert yaml.safe_load(out.read_text()) == json.loads(render(doc, "json"))


def test_every_route_is_described_once_with_its_operation_id(doc):
    described = {op["operationId"]: (path, method.upper()) for path, method, op in operations(doc)}
    assert described == {op.operation_id: (op.path, op.method) for op in API if op.documented}
    assert OPERATION_IDS | LEGACY_IDS <= set(described)


def test_the_articles_routes_are_deprecated_and_only_they(doc):
    deprecated = {op["operationId"] for _, _, op in operations(doc) if op.get("deprecated")}
    assert deprecated == LEGACY_IDS


def test_every_error_response_is_a_problem_document(doc):
    for path, method, op in operations(doc):
        for status, response in op["responses"].items():
            if int(status) >= 400 and op["operationId"] != "getReadiness":
                content = resolve(doc, response)["content"]
                assert list(content) == ["application/problem+json"], (path, method, status)
                assert content["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}


def test_headers_are_described(doc):
    for path, method, op in operations(doc):
        params = {resolve(doc, p).get("name") for p in op["parameters"]}
        assert "X-Request-ID" in params, (path, method)
        for status, response in op["responses"].items():
            assert "X-Request-ID" in resolve(doc, response)["headers"], (path, method, status)
    paths = doc["paths"]
    create, get = paths["/airports"]["post"], paths["/airports/{airport_id}"]["get"]
    assert "Idempotency-Key" in {resolve(doc, p)["name"] for p in create["parameters"]}
    assert "Location" in create["responses"]["201"]["headers"]
    assert "If-None-Match" in {resolve(doc, p)["name"] for p in get["parameters"]}
    assert "ETag" in get["responses"]["200"]["headers"] and "304" in get["responses"]
    assert "Retry-After" in resolve(doc, create["responses"]["503"])["headers"]


def test_creates_link_to_what_can_be_done_with_the_record(doc):
    links = doc["paths"]["/trips"]["post"]["responses"]["201"]["links"]
    assert {link["operationId"] for link in links.values()} == {"getTrip", "deleteTrip"}
    assert all(link["parameters"] == {"trip_id": "$response.body#/id"} for link in links.values())


def test_schemas_carry_the_rules_and_examples(doc):
    create = doc["components"]["schemas"]["AirportCreate"]
    assert create["properties"]["name"]["maxLength"] == 120
    assert create["properties"]["iata"]["pattern"] == "^[A-Z]{3}$"
    assert create["properties"]["name"]["example"] == "Lisbon"
    assert create["additionalProperties"] is False


def test_the_gateway_serves_the_same_document(api, doc):
    assert api.get("/openapi.json").json == json.loads(render(doc, "json"))
    served = api.get("/openapi.yaml")
    assert served.headers["content-type"] == "application/yaml"
    assert yaml.safe_load(served.text) == json.loads(render(doc, "json"))
