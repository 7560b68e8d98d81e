"""The description passes the standard OpenAPI linters with nothing to report: Spectral's
`spectral:oas` ruleset and Redocly CLI's `recommended` one, unchanged (tests/openapi/node pins
both), on both forms of the document: the committed one, and the one a gateway with API_TOKENS
serves."""

import json

import pytest

from gateway.openapi import document, render
from tests.support.node import run_tool
from tests.support.processes import ROOT


@pytest.fixture(scope="module")
def documents(tmp_path_factory):
    with_tokens = tmp_path_factory.mktemp("openapi") / "openapi-with-tokens.json"
    with_tokens.write_bytes(render(document(auth=True), "json"))
    return [ROOT / "docs" / "openapi.json", with_tokens]


def test_spectral_finds_nothing(node_project, documents):
    result = run_tool(
        "spectral",
        "lint",
        *map(str, documents),
        "--ruleset",
        str(node_project / ".spectral.yaml"),
        "--format",
        "json",
        "--fail-severity",
        "hint",
        "--quiet",
    )
    findings = json.loads(result.stdout or "[]")
    assert findings == [], json.dumps(findings, indent=1)[:6000] + result.stderr[-2000:]
    assert result.returncode == 0, result.stderr[-2000:]


def test_redocly_recommended_finds_nothing(node_project, documents):
    result = run_tool(
        "redocly",
        "lint",
        *map(str, documents),
        "--config",
        str(node_project / "redocly.yaml"),
        "--format",
        "json",
        "--max-problems",
        "1000",
    )
    reports = json_objects(result.stdout)  # one per document, one after the other
    assert len(reports) == len(documents), result.stdout[-2000:] + result.stderr[-2000:]
    for path, report in zip(documents, reports, strict=True):
        problems = [(p["ruleId"], p["severity"], p["message"], p["location"][0]["pointer"]) for p in report["problems"]]
        assert problems == [], (path.name, problems[:50])
        assert report["totals"] == {"errors": 0, "warnings": 0, "ignored": 0}, path.name
    assert result.returncode == 0, result.stderr[-2000:]


def json_objects(text):
    decoder, objects, at = json.JSONDecoder(), [], 0
    while text[at:].strip():
        value, at = decoder.raw_decode(text, at + len(text[at:]) - len(text[at:].lstrip()))
        objects.append(value)
    return objects
