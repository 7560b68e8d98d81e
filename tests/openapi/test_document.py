"""The OpenAPI document: valid, complete, in sync with the committed copy and with the routes."""

import json
import subprocess
import sys

import pytest
import yaml
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from gateway.http import problems
from gateway.http.problems import reason_phrase
from gateway.openapi import ERROR_DESCRIPTIONS, _problem_name, document, problem_samples, render
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
    for _, _, op in operations(doc):  # and their answers say so (RFC 9745), with the successor's Link
        headers = {name for status, r in op["responses"].items() if status < "400" for name in r.get("headers", {})}
        assert ({"Deprecation", "Link"} <= headers) == (op["operationId"] in LEGACY_IDS), op["operationId"]


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
    for collection, kind in [("/airports", "Airport"), ("/trips", "Trip")]:
        links = doc["paths"][collection]["post"]["responses"]["201"]["links"]
        by_operation = {link["operationId"]: link["parameters"] for link in links.values()}
        assert set(by_operation) == {f"get{kind}", f"update{kind}", f"delete{kind}"}
        record_id = {f"{kind.lower()}_id": "$response.body#/id"}
        assert by_operation[f"get{kind}"] == by_operation[f"delete{kind}"] == record_id
        # a change made to the record as created, with If-Match
        assert by_operation[f"update{kind}"] == {**record_id, "header.If-Match": "$response.header.ETag"}


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


def problem_responses(doc):
    for name, response in doc["components"]["responses"].items():
        content = response["content"]["application/problem+json"]
        yield name, response, content["examples"]


def test_every_problem_type_the_code_can_send_is_listed(doc):
    listed = doc["components"]["schemas"]["Problem"]["properties"]["type"]["examples"]
    assert listed == ["about:blank", *problems.PROBLEM_TYPES]
    for uri in problems.PROBLEM_TYPES:
        assert f"`{uri}`" in doc["info"]["description"]
    # Every type the error table produces, and every type constant the module defines.
    produced = {problems.problem_for(error_type("A detail.")).type_uri for error_type in problems.ERROR_TABLE}
    defined = {v for k, v in vars(problems).items() if k.isupper() and str(v).startswith(problems.TYPE_PREFIX)}
    defined.discard(problems.TYPE_PREFIX)
    assert produced - {"about:blank"} == defined == set(problems.PROBLEM_TYPES)


def test_every_row_of_the_error_table_has_an_example(doc):
    """What the examples show (status, type, headers) covers every kind of problem the error
    table makes; a new row without an example in gateway.openapi.problem_samples fails here."""
    shown = {
        (example["value"]["status"], example["value"]["type"])
        for _, _, examples in problem_responses(doc)
        for example in examples.values()
    }
    answered = doc["components"]["responses"]  # the statuses some operation answers
    for error_type in problems.ERROR_TABLE:
        problem = problems.problem_for(error_type("A detail."))
        if _problem_name(problem.status_code) in answered:
            assert (problem.status_code, problem.type_uri) in shown, error_type
    samples = problem_samples()
    for error_type in problems.ERROR_TABLE:
        problem = problems.problem_for(error_type("A detail."))
        same_kind = [
            s
            for s in samples[problem.status_code].values()
            if getattr(s, "type_uri", "about:blank") == problem.type_uri
        ]
        assert any(set(s.headers or {}) == set(problem.headers or {}) for s in same_kind), error_type


def test_problem_examples_are_valid_problems_of_their_status(doc):
    problem_schema = {**doc["components"]["schemas"]["Problem"], "components": doc["components"]}
    validator = Draft202012Validator(problem_schema)
    statuses = {_problem_name(status): status for status in ERROR_DESCRIPTIONS}
    for name, _, examples in problem_responses(doc):
        assert examples, name
        for example in examples.values():
            validator.validate(example["value"])
            assert example["value"]["status"] == statuses[name]
            assert example["value"]["title"] == reason_phrase(statuses[name])


def test_response_headers_are_required_only_where_always_sent(doc):
    responses = doc["components"]["responses"]
    assert responses["ServiceUnavailable"]["headers"]["Retry-After"]["required"] is True
    assert responses["Conflict"]["headers"]["Retry-After"]["required"] is False
    assert "idempotency-key-in-use" in responses["Conflict"]["headers"]["Retry-After"]["description"]
    assert responses["MethodNotAllowed"]["headers"]["Allow"]["required"] is True
    for name in ("X-Request-ID", "Location", "ETag"):
        assert doc["components"]["headers"][name]["required"] is True


def test_optional_request_fields_have_no_default_that_makes_them_look_required(doc):
    def defaults(node, where):
        if isinstance(node, dict):
            if "default" in node and node["default"] is None:
                yield where
            for key, value in node.items():
                yield from defaults(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                yield from defaults(value, f"{where}/{index}")

    assert list(defaults(doc, "#")) == []
    assert doc["components"]["schemas"]["AirportCreate"]["required"] == ["name"]


def test_every_operation_states_security_and_405_in_both_forms(doc):
    for form in (doc, document(auth=True)):
        for path, method, op in operations(form):
            assert "security" in op, (path, method)
            assert "405" in op["responses"], (path, method)


def test_changes_take_a_merge_patch_and_if_match_and_answer_412(doc):
    for path in ("/airports/{airport_id}", "/trips/{trip_id}"):
        change = doc["paths"][path]["patch"]
        assert list(change["requestBody"]["content"]) == ["application/merge-patch+json", "application/json"]
        assert {"If-Match", "Idempotency-Key"} <= {resolve(doc, p)["name"] for p in change["parameters"]}
        assert "412" in change["responses"] and "ETag" in change["responses"]["200"]["headers"]
        schema = resolve(doc, change["requestBody"]["content"]["application/json"]["schema"])
        assert "required" not in schema and schema["additionalProperties"] is False
