"""checkov on compose/ (the Dockerfile, the Kubernetes manifests, the kustomization as built, and
secrets in every file) finds nothing: each check skipped carries its reason beside it. Offline
(--skip-download: no guidelines or policies fetched), with the pinned checkov of tests/support/checkov.py."""

import json
import os
import re
import subprocess

import pytest

from tests.support.checkov import ensure_installed
from tests.support.processes import ROOT

pytestmark = pytest.mark.long  # scripts/test --long

COMPOSE = ROOT / "compose"


def test_checkov_finds_nothing_in_compose():
    checkov = ensure_installed()
    env = {**os.environ, "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}  # no network
    done = subprocess.run(
        [checkov, "-d", str(COMPOSE), "--skip-download", "--output", "json", "--quiet"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=ROOT,
    )
    start = min((i for i in (done.stdout.find("["), done.stdout.find("{")) if i >= 0), default=-1)
    assert start >= 0, done.stdout[-3000:] + done.stderr[-3000:]
    reports, _ = json.JSONDecoder().raw_decode(done.stdout[start:])  # after whatever a first run prints
    reports = reports if isinstance(reports, list) else [reports]
    ran = {report["check_type"]: report["summary"] for report in reports}
    assert {"dockerfile", "kubernetes", "kustomize", "secrets"} <= set(ran), ran
    failed = [
        f"{check['check_id']} {check['file_path']} {check['resource']}: {check['check_name']}"
        for report in reports
        for check in report["results"]["failed_checks"]
    ]
    assert not failed, "\n".join(failed)
    assert all(summary["passed"] > 0 for kind, summary in ran.items() if kind != "secrets"), ran


def test_every_skip_says_why_beside_it():
    for path in [*COMPOSE.rglob("*.yaml"), *COMPOSE.rglob("*.yml"), COMPOSE / "Dockerfile"]:
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            for reason in re.findall(r"checkov:skip=CKV\w+:\s*(.*)", line):
                assert len(reason) > 20, f"{path}:{number + 1}: a skip needs its reason"
            if "checkov.io/skip" in line:
                assert re.search(r"CKV\w+=.{20,}", line), f"{path}:{number + 1}: a skip needs its reason"
                assert lines[number - 1].lstrip().startswith("#"), f"{path}:{number + 1}: and a comment above"
