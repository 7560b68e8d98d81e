"""`nameko run` starts without the deprecation notices of nameko's own imports (pkg_resources,
eventlet), as devstack, compose/Dockerfile (so compose and Kubernetes) and scripts/test run it, and
the same notices raised from anywhere else still show."""

import re
import subprocess
import sys

import pytest

from devstack.layout import NAMEKO_WARNINGS, nameko_command
from tests.support.processes import ROOT

pytestmark = pytest.mark.fast


def run(argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_nameko_run_starts_without_the_notices_of_its_own_imports():
    plain = run([sys.executable, *nameko_command("run", "no_such_module")[-3:]])  # the CLI as a user runs it
    assert "pkg_resources is deprecated" in plain.stderr and "Eventlet is deprecated" in plain.stderr
    silenced = run(nameko_command("run", "no_such_module"))
    assert "No module named 'no_such_module'" in silenced.stderr + silenced.stdout  # it did start
    assert "deprecated" not in silenced.stderr, silenced.stderr


def test_other_warnings_still_show():
    options = [item for spec in NAMEKO_WARNINGS.split(",") for item in ("-W", spec)]
    done = run([sys.executable, *options, "-c", "import eventlet, pkg_resources"])
    assert "Eventlet is deprecated" in done.stderr and "pkg_resources is deprecated" in done.stderr


def test_the_image_sets_the_same_filters():
    dockerfile = (ROOT / "compose" / "Dockerfile").read_text()
    assert re.search(r'PYTHONWARNINGS="([^"]*)"', dockerfile).group(1) == NAMEKO_WARNINGS
