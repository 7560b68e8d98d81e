"""gateway/settings.py: settings come from the environment given, with a clear error for a bad value."""

import dataclasses
import re
import runpy
import types
from pathlib import Path

import pytest

from gateway.settings import Settings

pytestmark = pytest.mark.fast

ROOT = Path(__file__).resolve().parents[2]


def test_the_wsgi_pool_holds_a_proxy_per_server_thread_unless_sized():
    assert Settings.from_env({}).proxies == 16
    assert Settings.from_env({"THREADS": "24"}).proxies == 24
    assert Settings.from_env({"THREADS": "24", "RPC_PROXIES": "4"}).proxies == 4
    assert Settings.from_env({"RPC_CONNECTIONS": "0"}).connections == 2
    assert Settings.from_env({"RPC_CONNECTIONS": "0", "AMQP_URI": "amqp://a/;amqp://b/;amqp://c/"}).connections == 3


def test_rpc_pool_size_still_sets_both_counts_unless_they_are_set():
    """Its old name counted connections under ASGI and proxies under WSGI."""
    assert (
        Settings.from_env({"RPC_POOL_SIZE": "4"}).connections == Settings.from_env({"RPC_POOL_SIZE": "4"}).proxies == 4
    )
    both = Settings.from_env({"RPC_POOL_SIZE": "4", "RPC_PROXIES": "6"})
    assert (both.connections, both.proxies) == (4, 6)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("THREADS", "many", "THREADS='many' is not a valid int"),
        ("THREADS", "0", "THREADS must be positive"),
        ("RPC_CONNECTIONS", "-1", "RPC_CONNECTIONS must not be negative"),
        ("RPC_POOL_SIZE", "-1", "RPC_CONNECTIONS must not be negative"),
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
    assert Settings.from_env().proxies == 3


def test_every_gunicorn_setting_in_the_conf_is_one_gunicorn_knows():
    """gunicorn skips names it does not know without a word: a misspelt setting would do nothing.
    Among them, no control socket (one path per host user, which a second instance takes over)."""
    from gunicorn.config import Config

    config = runpy.run_path(str(ROOT / "gateway" / "gunicorn.conf.py"))
    settings = {name: value for name, value in config.items() if not name.startswith("_")}
    settings = {name: value for name, value in settings.items() if not isinstance(value, types.ModuleType)}
    settings.pop("Settings")  # the gateway's own class, imported to read THREADS
    cfg = Config()
    assert set(settings) - set(cfg.settings) == set()
    for name, value in settings.items():
        cfg.set(name, value)
    assert cfg.control_socket_disable is True and cfg.accesslog is None and cfg.worker_class_str == "gthread"


def configuration_table():
    """{variable: default cell} of README.md's configuration table (a row may name several)."""
    text = (ROOT / "README.md").read_text()
    table = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not cells[0].startswith("`"):
            continue
        names = re.findall(r"`([A-Z][A-Z0-9_]*)`", cells[0])
        defaults = re.findall(r"`([^`]*)`", cells[1]) or [cells[1]]
        for position, name in enumerate(names):
            rows[name] = defaults[position] if len(defaults) == len(names) else cells[1]
    return rows


def code_variables():
    """Every variable the gateway's settings, the workers' config and the scripts read."""
    names = {spec.metadata["variable"] for spec in dataclasses.fields(Settings)}
    names |= set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", (ROOT / "workers" / "config.yml").read_text()))
    for script in ("run", "lib.sh"):
        names |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]*):?-", (ROOT / "scripts" / script).read_text()))
    # scripts/run's python -m devstack run, scripts/cluster's python -m devstack.cluster, scripts/hosts'
    for module in ("__main__.py", "cluster.py", "hosts.py"):
        names |= set(re.findall(r'environ\.get\("([A-Z][A-Z0-9_]*)"', (ROOT / "devstack" / module).read_text()))
    # tracing: the OTEL_* variables telemetry/ itself reads, and those the OpenTelemetry SDK reads
    names |= set(re.findall(r'"(OTEL_[A-Z0-9_]+)"', (ROOT / "telemetry" / "__init__.py").read_text()))
    names |= otel_sdk_variables()
    return names


def otel_sdk_variables():
    from opentelemetry.sdk import environment_variables

    return {name for name in dir(environment_variables) if name.startswith("OTEL_")}


def test_the_readme_configuration_table_lists_every_variable_the_code_reads_and_no_other():
    documented, read = set(configuration_table()), code_variables()
    # the SDK's own variables are the SDK's to document; README lists those that matter here
    assert read - otel_sdk_variables() - documented == set(), "read by the code, missing from README's table"
    # a few are read by what the project runs, not by its code: gunicorn and prometheus-client
    assert documented - read - {"WEB_CONCURRENCY", "PROMETHEUS_MULTIPROC_DIR"} == set(), "in the table, read by nothing"


@pytest.mark.parametrize("spec", dataclasses.fields(Settings), ids=lambda spec: spec.metadata["variable"])
def test_the_readme_gives_each_gateway_setting_the_default_the_code_has(spec):
    cell = configuration_table()[spec.metadata["variable"]]
    default = spec.default
    shown = "empty" if default == "" else f"{default:g}" if isinstance(default, float) else str(default)
    assert shown in cell, f"README says {cell!r}, the code {default!r}"


def test_secrets_are_read_from_files_named_by_their_FILE_variables(tmp_path):
    (tmp_path / "amqp").write_text("amqp://travel:s3cret@rabbit:5672/travel\n")
    (tmp_path / "tokens").write_text("one,two")
    environ = {"AMQP_URI_FILE": str(tmp_path / "amqp"), "API_TOKENS_FILE": str(tmp_path / "tokens")}
    settings = Settings.from_env({**environ, "AMQP_URI": "amqp://ignored/"})
    assert settings.amqp_uri == "amqp://travel:s3cret@rabbit:5672/travel"
    assert settings.tokens == ["one", "two"]
    assert "s3cret" not in repr(settings)
    with pytest.raises(ValueError, match="AMQP_URI_FILE=.*cannot read it"):
        Settings.from_env({"AMQP_URI_FILE": str(tmp_path / "missing")})
    # only secrets have a _FILE form
    assert Settings.from_env({"RPC_TIMEOUT_FILE": str(tmp_path / "tokens")}).rpc_timeout == Settings().rpc_timeout
