"""The system under test: workers and gateways on free ports, isolated on a vhost and a Redis key
prefix of their own, and everything removed again when the run ends.

Targets:

    asgi      uvicorn gateway.asgi:app as devstack/gateways.py writes it (uvloop, the gateway's
              BoundedHttpProtocol, no uvicorn access log)
    wsgi      uvicorn gateway.wsgi_asgi:app the same way, THREADS=T, RPC_POOL_SIZE=T by default (one
              ClusterRpcProxy per thread, so no thread ever waits for a proxy)
    baseline  nameko run bench.baseline_gateway: the article's design (an @http gateway with RpcProxy)
              on the project's routes, lists and trip creates included, with a status per typed error
    article   nameko run bench.article_gateway: the article's gateway, rebuilt route for route, on its own routes
              (bench/routes.py), with nameko's defaults (max_workers 10, `nameko run`'s logging)
    flask     gunicorn -k gthread --threads T -w W bench.peers.flask_gateway:app: Flask with
              flask_nameko's FlaskPooledClusterRpcProxy (the article's advice), T proxies by default
              (NAMEKO_INITIAL_CONNECTIONS = NAMEKO_MAX_CONNECTIONS, all made at start)
    fastapi   uvicorn bench.peers.fastapi_gateway:app, uvicorn's httptools and access log:
              FastAPI with nameko-devex's queue of ClusterRpcProxy instances, sync endpoints in a
              threadpool of T threads, T proxies by default (RPC_POOL_SIZE)
    reference uvicorn bench.reference_gateway:app with the asgi flags: Falcon reading Redis directly,
              the yardstick for gateway CPU (GET /airports/<id> only; see bench/scenarios.py)

or any name given a URL (`--url asgi=http://host:8000`): then nothing is started for it.

Everything logs as shipped (INFO); --gateway-env and --worker-env LOG_LEVEL=WARNING measure the
tuned variant. How each target logs: docs/design.md, "Benchmark targets".
"""

import shutil
import signal
import socket
import sys
import tempfile
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from bench.measure import listening_pids
from bench.routes import routes_of
from bench.seed import wait_ready
from devstack import rabbitmq
from devstack.gateways import gateway_command, uvicorn_command
from devstack.isolation import clean_environment, delete_keys, free_port
from devstack.layout import SERVICES, nameko_command, parse_layout, worker_command, worker_variable
from devstack.processes import BIN, ChildProcess, child_env, sweep, wait_for_services
from devstack.stack import Started

REFERENCE = "reference"  # the yardstick (bench/reference_gateway.py): reads only, serves get_airport only
KINDS = ("asgi", "wsgi", "baseline", "article", "flask", "fastapi", REFERENCE)


@dataclass
class Options:
    """How to build the stack; the CLI fills it in."""

    amqp_base: str = "amqp://guest:guest@127.0.0.1:5672"
    redis_uri: str = "redis://127.0.0.1:6379/0"
    queue_type: str | None = None  # the run's vhost's default queue type (None: the broker's)
    workers_layout: str = "combined"
    worker_env: dict = field(default_factory=dict)  # KEY or SERVICE:KEY (the groups running SERVICE only)
    gateway_env: dict = field(default_factory=dict)
    asgi_workers: int = 1
    asgi_pool_size: int = 2  # RPC_POOL_SIZE: AMQP connections, one busy and one standing by (the default)
    wsgi_workers: int = 1
    wsgi_threads: int = 16
    wsgi_pool_size: int = 0  # RPC_POOL_SIZE: ClusterRpcProxy instances per worker; 0: = threads
    baseline_max_workers: int = 10  # nameko's default max_workers: concurrent HTTP requests
    # The peers (bench/peers/): threads and proxies as many as the wsgi target's, like for like
    flask_workers: int = 1  # gunicorn -w
    flask_threads: int = 16  # gunicorn --threads
    flask_pool_size: int = 0  # flask_nameko's NAMEKO_INITIAL/MAX_CONNECTIONS; 0: = threads
    fastapi_workers: int = 1  # uvicorn --workers
    fastapi_threads: int = 16  # FastAPI's threadpool (anyio's default limiter; 40 unless set)
    fastapi_pool_size: int = 0  # ClusterRpcProxy instances in the queue; 0: = threads
    urls: dict = field(default_factory=dict)  # target name -> URL of a gateway not started here
    start_timeout: float = 60.0
    log_dir: str | None = None
    # Tracing: None = off (no OTEL_* variable set); else the share of new traces sampled (1.0 =
    # 100 %), exported by the gateways and workers to an OTLP/HTTP sink the stack starts
    tracing: float | None = None


@dataclass
class Target:
    name: str
    url: str
    command: str  # how it was started, or "external"
    settings: dict
    process: ChildProcess | None = None
    port: int | None = None

    def pids(self):
        """The gateway's processes: its session when started here; else whatever listens on its
        port on this machine (nothing, for a remote URL)."""
        if self.process is not None:
            return self.process.pids()
        return listening_pids(self.port) if self.port and _is_local(self.url) else []


def _is_local(url):
    host = urllib.parse.urlsplit(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


class BenchTargets(Started):
    """The targets under benchmark (peers included) and the workers behind them, on a vhost and a
    Redis prefix of the run's own. A context manager: `start()` in `__enter__`, everything undone in
    `__exit__`."""

    def __init__(self, target_names, options, run_id=None):
        self.options = options
        self.run_id = run_id or uuid.uuid4().hex[:10]
        self.target_names = list(target_names)
        self.vhost = f"bench-{self.run_id}"
        self.redis_prefix = f"bench-{self.run_id}:"
        # a cluster's nodes (`uri1;uri2;...`): the same vhost on each (rabbitmqctl makes it on the node
        # RABBITMQ_NODENAME names, or RABBITMQ_MANAGEMENT_URL's)
        self.amqp_uri = ";".join(f"{base.strip().rstrip('/')}/{self.vhost}" for base in options.amqp_base.split(";"))
        self.workers = []  # [(services, ChildProcess)]
        self.targets = {}
        self.vhost_created = False
        self.keep_logs = True  # until the run says otherwise: logs of a failed start are kept
        self.tmp = Path(tempfile.mkdtemp(prefix=f"bench-{self.run_id}-"))
        self.log_dir = Path(options.log_dir) if options.log_dir else self.tmp
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.sink = None  # the OTLP/HTTP receiver, when tracing is on
        self.tracing_env = {}

    @property
    def local_targets(self):
        return [name for name in self.target_names if name not in self.options.urls]

    # -- start ------------------------------------------------------------------------------

    def start(self):
        for name in self.target_names:
            if name in self.options.urls:
                url = self.options.urls[name]
                self.targets[name] = Target(
                    name, url.rstrip("/"), "external", {}, port=urllib.parse.urlsplit(url).port or 80
                )
        if not self.local_targets:
            return
        unknown = [name for name in self.local_targets if name not in KINDS]
        if unknown:
            raise ValueError(f"no URL given for target(s) {', '.join(unknown)} (known kinds: {', '.join(KINDS)})")
        groups = parse_layout(self.options.workers_layout)
        if self.options.tracing is not None:
            self._start_sink()
        self.vhost_created = True  # before: a half-made vhost is deleted too
        rabbitmq.create_vhost(self.vhost, queue_type=self.options.queue_type)
        self._start_workers(groups)
        starters = {
            "asgi": self._start_asgi,
            "wsgi": self._start_wsgi,
            "baseline": self._start_baseline,
            "article": self._start_article,
            "flask": self._start_flask,
            "fastapi": self._start_fastapi,
            REFERENCE: self._start_reference,
        }
        for name in self.local_targets:  # all start at once; then wait for each
            self.targets[name] = starters[name]()
        self._wait_for_services()
        for name in self.local_targets:  # the reference's 404 comes from Redis, the others' over RPC
            target = self.targets[name]
            wait_ready(
                target.url,
                self.options.start_timeout,
                alive=target.process.running,
                describe=partial(target.process.output, 4000),
                routes=routes_of(name),
            )

    def _start_sink(self):
        """An OTLP/HTTP receiver in a process of its own (devstack/otlp_sink.py: it decodes and counts
        what it gets), so that export costs the gateways and workers what it would against a
        collector; and the standard variables pointing them at it."""
        port = free_port()
        argv = [sys.executable, "-m", "devstack.otlp_sink", "--port", port, "--quiet"]
        self.sink = ChildProcess("otlp-sink", argv, child_env(self.run_id, base=clean_environment()), self.log_dir)
        self.sink.start()
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or not self.sink.running():
                    raise RuntimeError(f"the OTLP sink did not start:\n{self.sink.output()}") from None
                time.sleep(0.05)
        self.tracing_env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": f"{self.options.tracing:g}",
        }

    def worker_env(self, services=()):
        """The environment of a worker process running `services`: --worker-env KEY=VALUE for
        every one, then SERVICE:KEY=VALUE for those running SERVICE (as compose sets a variable
        on one service's containers)."""
        # METRICS_PORT=0: no metrics HTTP server (calls are still counted), so worker processes
        # side by side, and other stacks on this machine, do not fight over port 9100
        env = {
            "AMQP_URI": self.amqp_uri,
            "REDIS_URI": self.options.redis_uri,
            "REDIS_KEY_PREFIX": self.redis_prefix,
            "METRICS_PORT": 0,
            **self.tracing_env,
        }
        scoped = {}
        for key, value in self.options.worker_env.items():
            service, name = worker_variable(key)
            if service is None:
                env[name] = value
            elif service in services:
                scoped[name] = value
        env.update(scoped)  # over the unscoped ones, whatever the order they were given in
        return child_env(self.run_id, base=clean_environment(), **env)

    def gateway_env(self, **values):
        env = {
            "AMQP_URI": self.amqp_uri,
            **self.tracing_env,
            **values,
            **self.options.gateway_env,
        }
        return child_env(self.run_id, base=clean_environment(), **env)

    def _start_workers(self, groups):
        for services, replicas in groups:
            modules = [SERVICES[name][0] for name in services]
            for replica in range(replicas):
                name = "workers-" + "+".join(services) + (f"-{replica + 1}" if replicas > 1 else "")
                argv = worker_command(modules)
                process = ChildProcess(name, argv, self.worker_env(services), self.log_dir).start()
                self.workers.append((services, process))

    def _wait_for_services(self):
        """Each service answers over the vhost; fails fast if a worker dies."""
        wait_for_services(
            self.amqp_uri,
            [service for _, service in SERVICES.values()],
            [process for _, process in self.workers],
            self.options.start_timeout,
        )

    def _target(self, name, argv, env, settings):
        port = settings["port"]
        process = ChildProcess(f"gateway-{name}", argv, env, self.log_dir).start()
        command = " ".join(str(a) for a in argv)
        return Target(name, f"http://127.0.0.1:{port}", command, settings, process, port)

    def _start_asgi(self):
        o, port = self.options, free_port()
        argv = uvicorn_command("gateway.asgi:app", port, processes=o.asgi_workers, quiet=True)
        env = self.gateway_env(RPC_POOL_SIZE=o.asgi_pool_size)
        settings = {
            "port": port,
            "workers": o.asgi_workers,
            "RPC_POOL_SIZE": env["RPC_POOL_SIZE"],
            "LOG_LEVEL": env.get("LOG_LEVEL", "INFO (the default)"),
        }
        return self._target("asgi", argv, env, settings)

    def _start_reference(self):
        port = free_port()
        # the asgi target's command line, so the two differ by the app only
        argv = uvicorn_command("bench.reference_gateway:app", port, processes=self.options.asgi_workers, quiet=True)
        # Only what it reads, the workers' Redis and prefix (--worker-env included): --gateway-env
        # is for the real gateways.
        workers = self.worker_env(["airports"])  # it reads airports_service's keys
        env = child_env(
            self.run_id,
            base=clean_environment(),
            REDIS_URI=workers["REDIS_URI"],
            REDIS_KEY_PREFIX=workers["REDIS_KEY_PREFIX"],
        )
        settings = {"port": port, "workers": self.options.asgi_workers, "REDIS_KEY_PREFIX": env["REDIS_KEY_PREFIX"]}
        return self._target(REFERENCE, argv, env, settings)

    def _start_wsgi(self):
        o, port = self.options, free_port()
        pool_size = o.wsgi_pool_size or o.wsgi_threads
        argv = gateway_command("wsgi", port, processes=o.wsgi_workers, threads=o.wsgi_threads, quiet=True)
        env = self.gateway_env(RPC_POOL_SIZE=pool_size)
        settings = {
            "port": port,
            "workers": o.wsgi_workers,
            "threads": o.wsgi_threads,
            "RPC_POOL_SIZE": env["RPC_POOL_SIZE"],
            "LOG_LEVEL": env.get("LOG_LEVEL", "INFO (the default)"),
        }
        return self._target("wsgi", argv, env, settings)

    def _start_baseline(self):
        o, port = self.options, free_port()
        config = self.tmp / "baseline.yml"
        # The nameko web server logs every request at INFO: WARNING keeps it as quiet as the others.
        config.write_text(
            f'AMQP_URI: "{self.amqp_uri}"\n'
            f'WEB_SERVER_ADDRESS: "127.0.0.1:{port}"\n'
            f"max_workers: {o.baseline_max_workers}\n" + _logging_config("WARNING")
        )
        argv = nameko_command("run", "--config", config, "bench.baseline_gateway")
        env = self.gateway_env()
        settings = {"port": port, "max_workers": o.baseline_max_workers, "LOG_LEVEL": "WARNING"}
        return self._target("baseline", argv, env, settings)

    def _start_article(self):
        port = free_port()
        config = self.tmp / "article.yml"
        # The article's config as far as it gives one: the broker and the web server's address (it
        # serves on nameko's default, 0.0.0.0:8000; here a free port). No max_workers: nameko's 10.
        # No LOGGING: `nameko run`'s logging.basicConfig(level=INFO), under which eventlet's WSGI
        # server writes an access line per request. --gateway-env LOG_LEVEL=X sets a root level.
        text = f'AMQP_URI: "{self.amqp_uri}"\nWEB_SERVER_ADDRESS: "127.0.0.1:{port}"\n'
        level = self.options.gateway_env.get("LOG_LEVEL")
        if level is not None:
            text += _logging_config(level)
        config.write_text(text)
        argv = [BIN / "nameko", "run", "--config", config, "bench.article_gateway"]
        settings = {
            "port": port,
            "max_workers": "10 (nameko's default)",
            "LOG_LEVEL": level or "INFO (nameko run's default: an access line per request)",
        }
        return self._target("article", argv, self.gateway_env(), settings)

    def _peer_log_level(self, argv, shipped):
        """The peers' server logs as it ships unless --gateway-env sets LOG_LEVEL, which becomes the
        server's --log-level (the peers read no LOG_LEVEL of their own); what the report names."""
        level = self.options.gateway_env.get("LOG_LEVEL")
        if level is None:
            return shipped
        argv += ["--log-level", str(level).lower()]
        return level

    def _start_flask(self):
        o, port = self.options, free_port()
        pool_size = o.flask_pool_size or o.flask_threads
        argv = [BIN / "gunicorn", "-k", "gthread", "--threads", o.flask_threads, "-w", o.flask_workers]
        argv += ["-b", f"127.0.0.1:{port}"]
        level = self._peer_log_level(argv, "INFO (gunicorn's default; no access log)")
        argv = [str(a) for a in [*argv, "bench.peers.flask_gateway:app"]]
        # app.config.from_prefixed_env(): FLASK_NAMEKO_X becomes flask_nameko's NAMEKO_X. Any other
        # FLASK_ variable would reach app.config too: only those set here and by --gateway-env do.
        ours = {
            "FLASK_NAMEKO_AMQP_URI": self.amqp_uri,
            "FLASK_NAMEKO_INITIAL_CONNECTIONS": pool_size,
            "FLASK_NAMEKO_MAX_CONNECTIONS": pool_size,
        }
        env = self.gateway_env(**ours)
        env = {k: v for k, v in env.items() if not k.startswith("FLASK_") or k in ours or k in o.gateway_env}
        settings = {
            "port": port,
            "workers": o.flask_workers,
            "threads": o.flask_threads,
            "NAMEKO_INITIAL_CONNECTIONS": env["FLASK_NAMEKO_INITIAL_CONNECTIONS"],
            "NAMEKO_MAX_CONNECTIONS": env["FLASK_NAMEKO_MAX_CONNECTIONS"],
            "LOG_LEVEL": level,
        }
        return self._target("flask", argv, env, settings)

    def _start_fastapi(self):
        o, port = self.options, free_port()
        pool_size = o.fastapi_pool_size or o.fastapi_threads
        argv = uvicorn_command("bench.peers.fastapi_gateway:app", port, processes=o.fastapi_workers, access_log=True)
        level = self._peer_log_level(argv, "INFO (uvicorn's default: an access line per request)")
        env = self.gateway_env(RPC_POOL_SIZE=pool_size, THREADS=o.fastapi_threads)
        settings = {
            "port": port,
            "workers": o.fastapi_workers,
            "threads": env["THREADS"],
            "RPC_POOL_SIZE": env["RPC_POOL_SIZE"],
            "LOG_LEVEL": level,
        }
        return self._target("fastapi", argv, env, settings)

    # -- what to measure ---------------------------------------------------------------------

    def worker_pids(self):
        return sorted(pid for _, process in self.workers for pid in process.pids())

    def describe(self):
        return {
            "run_id": self.run_id,
            "vhost": self.vhost if self.vhost_created else None,
            "redis_prefix": self.redis_prefix if self.vhost_created else None,
            "redis_uri": self.options.redis_uri if self.vhost_created else None,
            "workers_layout": self.options.workers_layout if self.workers else None,
            "worker_processes": [
                {"services": [SERVICES[s][1] for s in services], "command": " ".join(process.argv)}
                for services, process in self.workers
            ],
            "worker_env": self.options.worker_env,
            "gateway_env": self.options.gateway_env,
            "tracing": (
                {"sampled": self.options.tracing, "env": self.tracing_env, "sink": " ".join(self.sink.argv)}
                if self.sink
                else "off"
            ),
            "targets": {
                name: {"url": t.url, "command": t.command, "settings": t.settings} for name, t in self.targets.items()
            },
        }

    # -- stop ---------------------------------------------------------------------------------

    def close(self):
        """Stop gateways and workers; delete the vhost and the Redis keys. Every step is tried even
        if an earlier one fails; failures are printed (the run's own outcome is what counts)."""
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP})
        try:  # a second Ctrl+C must not cut the cleanup short: it is delivered when this is done
            self._close()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def _close(self):
        errors = []
        processes = [t.process for t in self.targets.values() if t.process is not None]
        processes += [process for _, process in self.workers]
        for process in processes:  # all at once: a nameko run takes seconds to stop gracefully
            _attempt(errors, process.terminate)
        for process in processes:
            _attempt(errors, process.stop)
        if self.sink is not None:  # after the others: they flush their last spans to it as they stop
            _attempt(errors, self.sink.stop)
        _attempt(errors, lambda: sweep(self.run_id))
        if self.vhost_created:
            _attempt(errors, lambda: rabbitmq.delete_vhost(self.vhost))
            _attempt(errors, lambda: delete_keys(self.options.redis_uri, self.redis_prefix))
        if errors:
            print(f"bench: cleanup problem: {errors[0]!r}", file=sys.stderr)
        if self.keep_logs or errors:
            print(f"bench: process logs kept in {self.log_dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def _logging_config(level):
    """A nameko config's LOGGING section: the root logger at `level`, to stderr."""
    return (
        "LOGGING:\n  version: 1\n  disable_existing_loggers: false\n"
        "  handlers:\n    console: {class: logging.StreamHandler}\n"
        f"  root: {{level: {str(level).upper()}, handlers: [console]}}\n"
    )


def _attempt(errors, step):
    try:
        step()
    except Exception as exc:
        errors.append(exc)
