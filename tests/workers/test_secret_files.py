"""workers/secret_files.py: the command it runs gets the secrets read from the files named."""

import subprocess
import sys

import pytest

pytestmark = pytest.mark.fast

SHOW = "import os; print(os.environ.get('AMQP_URI'), os.environ.get('REDIS_URI'), 'AMQP_URI_FILE' in os.environ)"


def run(env, *command):
    return subprocess.run(
        [sys.executable, "-m", "workers.secret_files", *command], env=env, capture_output=True, text=True, timeout=60
    )


def test_the_command_gets_the_secrets_from_their_files(tmp_path):
    (tmp_path / "amqp").write_text("amqp://u:p@rabbit:5672/travel\n")
    env = {"AMQP_URI_FILE": str(tmp_path / "amqp"), "REDIS_URI": "redis://as-is:6379/0"}
    done = run(env, sys.executable, "-c", SHOW)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["amqp://u:p@rabbit:5672/travel", "redis://as-is:6379/0", "False"]


def test_an_unreadable_file_stops_it_with_the_variable_named(tmp_path):
    done = run({"REDIS_URI_FILE": str(tmp_path / "missing")}, sys.executable, "-c", SHOW)
    assert done.returncode != 0
    assert "REDIS_URI_FILE=" in done.stderr and "cannot read it" in done.stderr
