"""compose/: docker-compose.yml parses with a real Compose implementation (offline: `config`
needs no Docker engine) and has the properties the deployment relies on; compose/Dockerfile is
one multi-stage build with a non-root final stage.

Needs `docker-compose` (Debian: apt-get install docker-compose). When the `docker compose`
CLI plugin is installed too, the file is checked with it as well.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.worker_config import default_of

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_DIR = ROOT / "compose"
COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"
DOCKERFILE = COMPOSE_DIR / "Dockerfile"
WORKERS = {"airports": "airports_service", "trips": "trips_service", "greeting": "greeting_service"}
APPS = [*WORKERS, "gateway"]
SERVICES = {"rabbitmq", "redis", *APPS}
PROFILED = {"jaeger", "redis-exporter"}  # profiled, and nothing in their images to probe with (see the file)
WORKERS_CONFIG = "/app/config/workers.yml"

COMMON_ENV = ["AMQP_URI", "LOG_LEVEL", "LOG_FORMAT"]
WORKER_ENV = [*COMMON_ENV, "REDIS_URI", "REDIS_KEY_PREFIX", "MAX_WORKERS", "METRICS_PORT"]
GATEWAY_ENV = [
    *COMMON_ENV,
    "RPC_TIMEOUT",
    "RPC_CONNECTIONS",
    "RPC_PROXIES",
    "RPC_MAX_IN_FLIGHT",
    "MAX_BODY_BYTES",
    "API_TOKENS",
    "CORS_ORIGINS",
]

INSTALL_HINT = (
    "`docker-compose` is not installed: the Compose file is checked with it "
    "(Debian: apt-get install docker-compose; or install the `docker compose` CLI plugin)"
)


def compose_implementations():
    """The Compose commands on this machine: Debian's `docker-compose`, and the CLI plugin."""
    found = []
    if shutil.which("docker-compose"):
        found.append(["docker-compose"])
    if shutil.which("docker"):
        probe = subprocess.run(
            ["docker", "compose", "version"], check=False, capture_output=True, text=True, timeout=60
        )
        if probe.returncode == 0:
            found.append(["docker", "compose"])
    return found


@pytest.fixture(scope="module")
def empty_env_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("compose") / "empty.env"
    path.write_text("")
    return path


def run_config(command, env_file):
    # An empty env file and a scrubbed environment: the defaults in the file apply, not the
    # caller's AMQP_URI or a developer's compose/.env.
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "LC_ALL") if key in os.environ}
    return subprocess.run(
        [*command, "--env-file", str(env_file), "-f", str(COMPOSE_FILE), "config"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env,
    )


@pytest.fixture(scope="module")
def configs(empty_env_file):
    """{command: its `config` run} for every Compose implementation installed; one at least."""
    implementations = compose_implementations()
    if not implementations:
        pytest.fail(INSTALL_HINT)
    return {" ".join(command): run_config(command, empty_env_file) for command in implementations}


@pytest.fixture(scope="module")
def resolved(configs):
    """The file as Compose resolves it (anchors merged, ${VAR:-default} interpolated)."""
    command, result = next(iter(configs.items()))
    assert result.returncode == 0, f"{command} config failed:\n{result.stderr}"
    return yaml.safe_load(result.stdout)


@pytest.fixture(scope="module")
def source():
    """The file as written."""
    return yaml.safe_load(COMPOSE_FILE.read_text())


def test_every_installed_compose_accepts_the_file(configs):
    for command, result in configs.items():
        assert result.returncode == 0, f"{command} config failed:\n{result.stderr}"
        assert set(default_services(yaml.safe_load(result.stdout))) == SERVICES, command


def test_compose_specification_without_version(source):
    assert "version" not in source, "the Compose Specification has no top-level `version:`"
    assert set(default_services(source)) == SERVICES


def default_services(config):
    """The services started without a profile (the `cluster` profile's are tests/deploy/test_compose_cluster.py's)."""
    return [name for name, service in config["services"].items() if not service.get("profiles")]


def test_every_service_has_a_healthcheck(resolved):
    for name, service in resolved["services"].items():
        if name in PROFILED:
            continue  # jaeger: its image has nothing to probe with (see the file), and nothing waits for it
        check = service.get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name


def test_healthcheck_commands(resolved):
    services = resolved["services"]
    assert "rabbitmq-diagnostics" in services["rabbitmq"]["healthcheck"]["test"]
    assert "redis-cli ping" in " ".join(services["redis"]["healthcheck"]["test"])
    for name in WORKERS:  # each container's own readiness, on its METRICS_PORT
        worker_check = " ".join(services[name]["healthcheck"]["test"])
        assert worker_check.startswith("CMD python -c ")
        assert "http://127.0.0.1:9100/health/ready" in worker_check
    gateway_check = " ".join(services["gateway"]["healthcheck"]["test"])
    assert gateway_check.startswith("CMD python -c ")
    assert "http://127.0.0.1:8000/health/ready" in gateway_check


def test_depends_on_waits_for_healthy_services(resolved):
    services = resolved["services"]
    for name in APPS:
        depends_on = services[name]["depends_on"]
        assert isinstance(depends_on, dict), f"{name}: depends_on needs the long form with conditions"
        assert depends_on["rabbitmq"]["condition"] == "service_healthy", name
        for dependency, spec in depends_on.items():
            assert spec["condition"] == "service_healthy", f"{name} -> {dependency}"
    for name in WORKERS:
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert set(services["gateway"]["depends_on"]) >= set(WORKERS)
    assert "nc -z" not in COMPOSE_FILE.read_text(), "wait on healthchecks, not on port polling"


def test_redis_appends_to_a_named_volume(resolved):
    redis = resolved["services"]["redis"]
    command = " ".join(redis["command"]) if isinstance(redis["command"], list) else redis["command"]
    assert "--appendonly yes" in command
    assert "--appendfsync everysec" in command
    volumes = [volume_parts(volume) for volume in redis["volumes"]]
    assert any(target == "/data" and source in resolved["volumes"] for source, target in volumes), volumes


def test_images_are_pinned(resolved):
    services = resolved["services"]
    assert re.fullmatch(r"rabbitmq:4\.\d+\.\d+-management", services["rabbitmq"]["image"])  # a supported series
    assert re.fullmatch(r"redis:\d+\.\d+\.\d+(-\w+)?", services["redis"]["image"])
    for name in APPS:
        assert re.fullmatch(r"nameko-travel:\d+\.\d+\.\d+", services[name]["image"]), name


def test_apps_are_built_from_the_one_dockerfile(resolved):
    for name in APPS:
        build = resolved["services"][name]["build"]
        assert Path(build["context"]).resolve() == ROOT, name
        assert build["dockerfile"] == "compose/Dockerfile", name


def test_workers_scale(resolved):
    for name, nameko_service in WORKERS.items():
        worker = resolved["services"][name]
        assert "container_name" not in worker, f"{name}: container_name prevents --scale"
        assert not worker.get("ports"), f"{name}: a published host port prevents --scale"
        module = nameko_service.removesuffix("_service")
        assert worker["command"] == ["nameko", "run", "--config", WORKERS_CONFIG, f"workers.{module}"]


def test_gateway_serves_on_8000(resolved):
    gateway = resolved["services"]["gateway"]
    assert gateway["command"] == [
        "uvicorn",
        "gateway.asgi:app",
        "--host",
        "0.0.0.0",
        "--port",
        "8000",
        "--no-access-log",
        "--http",
        "gateway.protocol:BoundedHttpProtocol",  # the limits and read deadline (devstack/gateways.py)
    ]
    assert gateway["environment"]["METRICS_PORT"] == "9100"  # /metrics off the published port
    assert ("8000", "8000") in [port_parts(port) for port in gateway["ports"]]


def test_app_environment_defaults(resolved, source):
    services = resolved["services"]
    for name in WORKERS:
        env = services[name]["environment"]
        assert set(WORKER_ENV) <= set(env), name
        assert env["AMQP_URI"] == "amqp://guest:guest@rabbitmq:5672/travel"  # the definitions' vhost
        assert env["REDIS_URI"] == "redis://redis:6379/0"
        assert env["REDIS_KEY_PREFIX"] == "travel:"
        assert env["METRICS_PORT"] == "9100"
    gateway_env = services["gateway"]["environment"]
    assert set(GATEWAY_ENV) <= set(gateway_env)
    assert gateway_env["API_TOKENS"] in ("", None)  # authentication off unless set
    # every worker runs as many calls at once as workers/config.yml gives it (BENCHMARKS.md, "Trade-offs")
    for worker in ("airports", "trips", "greeting"):
        assert services[worker]["environment"]["MAX_WORKERS"] == default_of("max_workers"), worker
    # Each is overridable from the environment or compose/.env, with a default: under its own name,
    # or a service's own setting under <SERVICE>_<name>.
    for name in APPS:
        # `<<:` merges are resolved by the YAML loader.
        for key, value in source["services"][name]["environment"].items():
            assert str(value).startswith(("${" + key + ":-", "${" + name.upper() + "_" + key + ":-")), (
                f"{name}: {key}={value!r}"
            )


def test_env_example_names_every_variable():
    text = COMPOSE_FILE.read_text()
    used = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", text))
    example = (COMPOSE_DIR / ".env.example").read_text()
    documented = set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", example, re.MULTILINE))
    assert used <= documented, f"missing from compose/.env.example: {sorted(used - documented)}"


# ---- the Dockerfile -------------------------------------------------------------------------


def dockerfile_instructions(text):
    """(INSTRUCTION, arguments) pairs, with line continuations joined and comments dropped."""
    instructions, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        keyword, _, arguments = current.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        current = ""
    return instructions


def dockerfile_stages():
    """[(FROM arguments, [instructions])] in order, and the global ARG defaults."""
    stages, args = [], {}
    for keyword, arguments in dockerfile_instructions(DOCKERFILE.read_text()):
        if keyword == "FROM":
            stages.append((arguments, []))
        elif stages:
            stages[-1][1].append((keyword, arguments))
        elif keyword == "ARG" and "=" in arguments:
            name, _, default = arguments.partition("=")
            args[name] = default
    return stages, args


def test_dockerfile_builds_wheels_then_installs_only_them():
    stages, args = dockerfile_stages()
    assert len(stages) >= 2, "a builder stage and a final stage"
    names = {re.split(r"\s+as\s+", spec, flags=re.IGNORECASE)[-1]: body for spec, body in stages if " " in spec}
    assert "builder" in names, "a stage named builder"
    assert any(keyword == "RUN" and "pip wheel" in arguments for keyword, arguments in names["builder"])
    final_spec, final = stages[-1]
    final_image = re.sub(r"\$\{(\w+)\}", lambda match: args.get(match.group(1), match.group(0)), final_spec.split()[0])
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", final_image), final_image
    installs = [arguments for keyword, arguments in final if keyword == "RUN" and "pip install" in arguments]
    assert installs and all("--no-index" in arguments and "/wheels" in arguments for arguments in installs)
    assert not any(keyword == "RUN" and "apt-get install" in arguments for keyword, arguments in final)


def test_dockerfile_runs_as_non_root():
    stages, _ = dockerfile_stages()
    users = [arguments for keyword, arguments in stages[-1][1] if keyword == "USER"]
    assert users, "the final stage sets USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), user


def test_dockerfile_puts_the_workers_config_at_a_fixed_path():
    stages, _ = dockerfile_stages()
    copies = [arguments.split() for keyword, arguments in stages[-1][1] if keyword == "COPY"]
    assert any(parts[-2:] == ["workers/config.yml", WORKERS_CONFIG] for parts in copies), copies


def test_dockerfile_puts_the_gunicorn_settings_where_gunicorn_looks():
    # gunicorn reads ./gunicorn.conf.py by default: the WSGI gateway gets gthread and THREADS
    stages, _ = dockerfile_stages()
    workdirs = [arguments for keyword, arguments in stages[-1][1] if keyword == "WORKDIR"]
    copies = [arguments.split() for keyword, arguments in stages[-1][1] if keyword == "COPY"]
    assert workdirs[-1] == "/app"
    assert any(parts[-2:] == ["gateway/gunicorn.conf.py", "/app/gunicorn.conf.py"] for parts in copies), copies


def test_build_context_leaves_out_the_work_tree():
    lines = [
        line.strip()
        for line in (COMPOSE_DIR / "Dockerfile.dockerignore").read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    assert lines[0] == "*", "exclude everything, then let the build's inputs back in"
    let_back = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert let_back == {
        *["pyproject.toml", "setup.cfg", "README.md", "gateway", "workers", "schemas", "telemetry"],
        "compose/healthcheck.py",  # the image's HEALTHCHECK
    }


# ---- helpers ----------------------------------------------------------------------------------


def volume_parts(volume):
    if isinstance(volume, dict):
        return volume.get("source"), volume["target"]
    source, target = volume.split(":")[:2]
    return source, target


def port_parts(port):
    """(published, target) from Compose v1's short form or v2's long form."""
    if isinstance(port, dict):
        return str(port.get("published")), str(port["target"])
    text = str(port).split("/")[0]
    pieces = text.split(":")
    return pieces[-2], pieces[-1]


def test_the_tracing_profile_adds_jaeger_and_tracing_stays_off_without_it(empty_env_file, resolved):
    """Validated offline only (`config`): the image cannot be pulled here."""
    for command in compose_implementations():
        result = subprocess.run(
            [*command, "--env-file", str(empty_env_file), "-f", str(COMPOSE_FILE), "--profile", "tracing", "config"],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
            env={key: os.environ[key] for key in ("PATH", "HOME") if key in os.environ},
        )
        assert result.returncode == 0, result.stderr
        services = yaml.safe_load(result.stdout)["services"]
        # the cluster profile's services are tests/deploy/test_compose_cluster.py's (docker-compose
        # v1 lists every profile's)
        monitoring = {"prometheus", "grafana", "redis-exporter"}  # test_monitoring_profile's
        listed = {n for n, s in services.items() if s.get("profiles") != ["cluster"]} - monitoring
        assert listed == SERVICES | PROFILED - monitoring, command
        jaeger = services["jaeger"]
        assert re.fullmatch(r"jaegertracing/all-in-one:\d+\.\d+\.\d+", jaeger["image"])
        assert jaeger["profiles"] == ["tracing"]
        assert "4318" in [str(port) for port in jaeger["expose"]]  # OTLP over HTTP, inside the network
        assert [port_parts(port) for port in jaeger["ports"]] == [("16686", "16686")]
        assert all(str(port).startswith("127.0.0.1:") or isinstance(port, dict) for port in jaeger["ports"])
    for name in APPS:  # the endpoint empty by default: tracing off
        env = resolved["services"][name]["environment"]
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] in ("", None), name
        assert env["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"
        assert "jaeger" not in resolved["services"][name].get("depends_on", {}), name


def test_the_monitoring_profile_runs_prometheus_with_the_rules_and_grafana_with_the_dashboard(resolved):
    services = resolved["services"]
    for name in ("prometheus", "grafana", "redis-exporter"):
        assert services[name]["profiles"] == ["monitoring"], name
    mounts = {volume_parts(v)[1]: volume_parts(v)[0] for v in services["prometheus"]["volumes"]}
    assert Path(mounts["/etc/prometheus/rules.yml"]).resolve() == COMPOSE_DIR / "monitoring" / "rules.yml"
    assert Path(mounts["/etc/prometheus/prometheus.yml"]).resolve() == COMPOSE_DIR / "monitoring" / "prometheus.yml"
    grafana = {volume_parts(v)[1]: volume_parts(v)[0] for v in services["grafana"]["volumes"]}
    assert (
        Path(grafana["/var/lib/grafana/dashboards"]).resolve() == COMPOSE_DIR / "monitoring" / "grafana" / "dashboards"
    )
    for name in ("prometheus", "grafana"):
        assert all(
            str(port).startswith("127.0.0.1:") or port.get("host_ip") == "127.0.0.1" for port in services[name]["ports"]
        )


def test_the_broker_loads_the_definitions_at_boot(resolved):
    for name in ("rabbitmq", "rabbitmq-1", "rabbitmq-2", "rabbitmq-3"):
        service = resolved["services"][name]
        mounts = {volume_parts(v)[1]: volume_parts(v)[0] for v in service["volumes"]}
        definitions = Path(mounts["/etc/rabbitmq/travel-definitions.json"]).resolve()
        assert definitions == COMPOSE_DIR / "k8s" / "rabbitmq" / "definitions.json", name
        assert Path(mounts["/etc/rabbitmq/conf.d/10-travel.conf"]).resolve() == COMPOSE_DIR / "rabbitmq.conf"
        command = " ".join(service["command"])
        assert "/run/rabbitmq-definitions/10-travel.json" in command and "20-users.json" in command
        assert command.endswith("exec docker-entrypoint.sh rabbitmq-server"), name
    conf = (COMPOSE_DIR / "rabbitmq.conf").read_text()
    assert "definitions.local.path = /run/rabbitmq-definitions" in conf
    gateway = resolved["services"]["gateway"]
    assert gateway["environment"]["SHUTDOWN_GRACE"] == "5" and gateway["stop_grace_period"] == "30s"


def test_the_broker_command_writes_the_definitions_and_a_users_file(source, tmp_path):
    """The rabbitmq service's start command, run by sh with its paths moved under tmp_path (and the
    image's own steps, chown and the entrypoint, left out)."""
    script = source["services"]["rabbitmq"]["command"][2].replace("$$", "$")
    for path, moved in (("/run/rabbitmq-definitions", tmp_path / "run"), ("/etc/rabbitmq", tmp_path)):
        script = script.replace(path, str(moved))
    script = script.replace(f"chown -R rabbitmq {tmp_path / 'run'} && ", "")
    script = script.replace("exec docker-entrypoint.sh rabbitmq-server", "true")
    shutil.copy(COMPOSE_DIR / "k8s" / "rabbitmq" / "definitions.json", tmp_path / "travel-definitions.json")
    env = {"PATH": os.environ["PATH"], "RABBITMQ_DEFAULT_USER": "ann", "RABBITMQ_DEFAULT_PASS": "pa%ss word"}
    subprocess.run(["sh", "-c", script], env=env, check=True, timeout=30)
    written = sorted(path.name for path in (tmp_path / "run").iterdir())
    assert written == ["10-travel.json", "20-users.json"]  # the topology first: permissions name its vhost
    users = json.loads((tmp_path / "run" / "20-users.json").read_text())
    assert users["users"] == [{"name": "ann", "password": "pa%ss word", "tags": ["administrator"]}]
    assert users["permissions"][0]["vhost"] == "travel"
    assert (tmp_path / "run" / "20-users.json").stat().st_mode & 0o077 == 0
