"""/docs renders in a real browser (headless Chromium) with every operation, using only what the
gateway serves: every host but 127.0.0.1 is made unresolvable, so a CDN reference would fail."""

import re
import shutil
import subprocess

import pytest

from gateway.routes import API

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def rendered(live_gateway, tmp_path_factory):
    assert CHROMIUM, "the docs page test needs Chromium (Debian: apt-get install chromium)"
    profile = tmp_path_factory.mktemp("chromium-profile")
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
            "--virtual-time-budget=20000",
            "--dump-dom",
            f"{live_gateway}/docs",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_every_operation_is_rendered(rendered):
    shown_ids = set(re.findall(r'class="opblock-summary-operation-id"[^>]*>([^<]+)<', rendered))
    shown_paths = set(re.findall(r'data-path="([^"]+)"', rendered))
    documented = [op for op in API if op.documented]
    assert shown_ids == {op.operation_id for op in documented}
    assert shown_paths == {op.path for op in documented}


def test_the_articles_routes_are_shown_deprecated(rendered):
    assert set(re.findall(r'opblock-summary-path__deprecated" data-path="([^"]+)"', rendered)) == {
        "/airport",
        "/airport/{airport_id}",
        "/trip",
        "/trip/{trip_id}",
    }
