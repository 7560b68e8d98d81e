"""The README's first command, as a new user runs it: `scripts/run` brings the whole system up,
the article's walkthrough works against it, and one signal takes everything down again.

CI runs this on every supported Python (.ci/run), so it is what proves `scripts/run` starts there."""

import json
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from devstack.processes import ROOT, RUN_ID_VARIABLE, ChildProcess, alive, marked_pids
from devstack.stack import wait_for_http
from tests.support.processes import free_port
from tests.support.servers import REDIS_URI, amqp_uri


def request(url, body=None, timeout=10):
    """(status, body text) for a GET, or a POST of `body` sent as `curl -d` sends it (form type)."""
    data = None if body is None else body.encode()
    req = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
    if data is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_ready(url, process, timeout=60):
    deadline = time.monotonic() + timeout
    while request(f"{url}/health/ready")[0] != 200:
        assert process.running(), process.output()[-3000:]
        assert time.monotonic() < deadline, f"not ready in {timeout}s:\n{process.output()[-3000:]}"
        time.sleep(0.3)


@pytest.mark.parametrize("gateway", ["asgi", "wsgi"])
def test_scripts_run_serves_the_article_walkthrough_and_stops_on_a_signal(gateway, fresh_vhost, redis_prefix):
    # a vhost of its own: the session's workers must not take these calls
    port, run_id = free_port(), uuid.uuid4().hex
    env = {
        # the test's own interpreter's virtualenv, so CI proves each Python's
        "VENV": str(Path(sys.prefix)),
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        "HOME": str(Path.home()),
        "AMQP_URI": amqp_uri(fresh_vhost),
        "REDIS_URI": REDIS_URI,
        "REDIS_KEY_PREFIX": f"{redis_prefix}quickstart-{gateway}:",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "THREADS": "4",
        "GATEWAY": gateway,
        "METRICS_PORT": "0",
        RUN_ID_VARIABLE: run_id,  # inherited by everything scripts/run starts: how they are found
    }
    process = ChildProcess(f"scripts-run-{gateway}", [ROOT / "scripts" / "run"], env).start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/health/live", process, timeout=90)
        wait_ready(url, process)
        status, first = request(f"{url}/airport", '{"airport": "first_airport"}')
        assert status == 200, first
        status, second = request(f"{url}/airport", '{"airport": "second_airport"}')
        assert status == 200, second
        assert request(f"{url}/airport/{first}") == (200, '{"airport": "first_airport"}')
        status, trip = request(f"{url}/trip", json.dumps({"airport_from": first, "airport_to": second}))
        assert status == 200, trip
        status, body = request(f"{url}/trip/{trip}")
        assert (status, json.loads(body)) == (200, {"trip": {"from": first, "to": second}})

        members = marked_pids(run_id)
        assert len(members) >= 3, members  # scripts/run (become python -m devstack), nameko run, the gateway
        process.signal(signal.SIGTERM)  # what Ctrl+C's SIGINT does, sent to the script alone
        try:
            process.popen.wait(60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"scripts/run did not stop within 60 s of SIGTERM:\n{process.output()[-3000:]}")
        deadline = time.monotonic() + 15
        while any(alive(pid) for pid in members) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in members if alive(pid)], "scripts/run left processes behind"
    finally:
        process.close()


def find_python(python):
    """scripts/lib.sh's choice of interpreter with PYTHON set to `python`: (exit code, output)."""
    done = subprocess.run(
        ["bash", "-c", "source scripts/lib.sh && find_python"],
        cwd=ROOT,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "PYTHON": python},
        capture_output=True,
        text=True,
        timeout=30,
    )
    return done.returncode, (done.stdout + done.stderr).strip()


@pytest.mark.fast
def test_the_python_asked_for_is_used_or_refused_never_swapped(tmp_path):
    """README: `PYTHON=python3.12 scripts/run`. A PYTHON that does not run (a pyenv shim of a
    version not active) is an error, not a quiet fall back to another interpreter."""
    assert find_python(sys.executable) == (0, sys.executable)
    not_running = tmp_path / "python3.12"
    not_running.write_text("#!/bin/sh\nexit 127\n")
    not_running.chmod(0o755)
    code, output = find_python(str(not_running))
    assert code != 0 and f"PYTHON={not_running} does not run" in output
