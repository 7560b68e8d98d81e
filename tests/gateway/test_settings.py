"""gateway/settings.py: settings come from the environment given, with a clear error for a bad value."""

import runpy
import types
from pathlib import Path

import pytest

from gateway.settings import Settings

pytestmark = pytest.mark.fast

ROOT = Path(__file__).resolve().parents[2]


def test_the_wsgi_pool_holds_a_proxy_per_server_thread_unless_sized():
    assert Settings.from_env({}).wsgi_proxies == 16
    assert Settings.from_env({"THREADS": "24"}).wsgi_proxies == 24
    assert Settings.from_env({"THREADS": "24", "RPC_POOL_SIZE": "4"}).wsgi_proxies == 4
    assert Settings.from_env({"RPC_POOL_SIZE": "0"}).asgi_connections == 2


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("THREADS", "many", "THREADS='many' is not a valid int"),
        ("THREADS", "0", "THREADS must be positive"),
        ("RPC_POOL_SIZE", "-1", "RPC_POOL_SIZE must not be negative"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT must be plain or json"),
    ],
)
def test_a_bad_value_names_its_variable(variable, value, message):
    with pytest.raises(ValueError, match=message):
        Settings.from_env({variable: value})


def test_gunicorn_threads_set_on_its_command_line_size_the_pool(monkeypatch):
    """gunicorn.conf.py's on_starting hook: `--threads 3` (or GUNICORN_CMD_ARGS) reaches THREADS,
    which the workers, forked after it, read for their pool's size."""
    monkeypatch.setenv("THREADS", "16")
    config = runpy.run_path(str(ROOT / "gateway" / "gunicorn.conf.py"))
    assert config["threads"] == 16 and config["worker_class"] == "gthread"

    server = types.SimpleNamespace(cfg=types.SimpleNamespace(threads=3))
    config["on_starting"](server)
    assert Settings.from_env().wsgi_proxies == 3
