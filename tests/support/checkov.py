"""checkov, the infrastructure-as-code scanner, in a virtualenv of its own (.venv-checkov), at the
versions tests/deploy/checkov/requirements.txt pins: a heavy tool whose dependencies must not
meet the project's pins, nor weigh on the per-Python CI virtualenvs. Installed once (pip's
cache spares the network afterwards; a hash of the pins is kept in the venv); run offline."""

import hashlib
import shutil
import subprocess
import sys

from tests.support.processes import ROOT

REQUIREMENTS = ROOT / "tests" / "deploy" / "checkov" / "requirements.txt"
VENV = ROOT / ".venv-checkov"
INSTALLED_FROM = VENV / ".installed-from-sha256"
PYTHONS = ("python3.11", "python3.12")  # what the pinned set was tested on


def ensure_installed():
    """The checkov command, installed from the pins if they changed."""
    pins = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    checkov = VENV / "bin" / "checkov"
    if checkov.exists() and INSTALLED_FROM.exists() and INSTALLED_FROM.read_text() == pins:
        return checkov
    python = next(filter(None, map(shutil.which, PYTHONS)), sys.executable)
    shutil.rmtree(VENV, ignore_errors=True)
    subprocess.run([python, "-m", "venv", str(VENV)], check=True, timeout=120)
    done = subprocess.run(
        [VENV / "bin" / "pip", "install", "--quiet", "--disable-pip-version-check", "-r", REQUIREMENTS],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    INSTALLED_FROM.write_text(pins)
    return checkov
