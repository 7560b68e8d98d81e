"""bench/worker_parts.py runs each part it times, the worker path through both containers
included, and prints a row for each (under eventlet's monkey patch: in a process of its own)."""

import subprocess
import sys

import pytest

from tests.support.processes import ROOT

pytestmark = pytest.mark.fast


def test_every_part_is_timed():
    run = subprocess.run(
        [sys.executable, "-m", "bench.worker_parts", "--calls", "300"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    rows = [line.rsplit(None, 3) for line in run.stdout.splitlines()[1:]]
    assert [name for name, *_ in rows] == [
        "worker path (signature, spawn, hooks, hello)",
        "reply frames",
        "nameko's greenthread per request (consumer.py)",
        "call metrics (started, finished)",
        "argument check",
        "request id, set and read",
    ]
    assert all(float(before) > 0 and float(now) >= 0 for _, before, now, _ in rows), run.stdout
