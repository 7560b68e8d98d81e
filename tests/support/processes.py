"""Real processes for integration tests: `nameko run` workers (and, later, HTTP gateways)."""

import os
import signal
import time

from bench.processes import BIN, ROOT, ChildProcess
from bench.processes import wait_for_services as bench_wait
from bench.stack import free_port  # noqa: F401 (the tests import it from here)

WORKER_MODULES = ("workers.airports", "workers.trips", "workers.greeting")


class Process(ChildProcess):
    """A child process in its own session (bench's), with what the tests do to processes."""

    def __init__(self, argv, env, name):
        super().__init__(name, argv, env)

    def signal(self, sig):
        """`sig` to the process itself (a worker to kill, a server to stop)."""
        if self.running():
            os.kill(self.popen.pid, sig)

    def kill(self):
        self.signal(signal.SIGKILL)
        return self.popen.wait(15)

    def output(self, tail=None):
        return self.log_path.read_text(errors="replace") if tail is None else super().output(tail)

    def close(self):
        self.stop()
        self.log_path.unlink(missing_ok=True)


def worker_env(amqp_uri, redis_uri, redis_prefix, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AMQP_", "REDIS_"))}
    env.update(
        AMQP_URI=amqp_uri, REDIS_URI=redis_uri, REDIS_KEY_PREFIX=redis_prefix, PYTHONUNBUFFERED="1", METRICS_PORT="0"
    )  # many workers run side by side here; tests that read metrics pick a port
    env.update({k: str(v) for k, v in extra.items()})
    return env


def nameko_run(env, modules=WORKER_MODULES, name="workers"):
    argv = [str(BIN / "nameko"), "run", "--config", str(ROOT / "workers" / "config.yml"), *modules]
    return Process(argv, env, name).start()


def wait_for_services(amqp_uri, services, process=None, timeout=30, ssl=None):
    """Block until each service answers (see bench.processes.wait_for_services)."""
    bench_wait(amqp_uri, services, [process] if process else [], timeout, ssl)


class Stack:
    """Services in one `nameko run` on a vhost of their own; `amqp` is that vhost's URI."""

    def __init__(self, modules, services, redis_prefix="unused:", **env):
        from tests.conftest import REDIS_URI, amqp_uri
        from tests.support import broker

        self.broker = broker
        self.vhost = broker.create_vhost("travel-test-stack")
        self.amqp = amqp_uri(self.vhost)
        self.process = nameko_run(
            worker_env(self.amqp, REDIS_URI, redis_prefix, **env), modules=modules, name="-".join(services)
        )
        try:
            wait_for_services(self.amqp, services, self.process)
        except BaseException:
            self.close()
            raise

    def close(self):
        self.process.kill()
        self.broker.delete_vhost(self.vhost)


def gateway_run(kind, env, port, name=None, processes=1):
    """The gateway as users run it: uvicorn (asgi), gunicorn with threads (wsgi) or waitress."""
    if kind == "waitress":
        argv = [str(BIN / "waitress-serve"), "--listen", f"127.0.0.1:{port}", "--threads", "8", "gateway.wsgi:app"]
    elif kind == "asgi":
        argv = [
            str(BIN / "uvicorn"),
            "gateway.asgi:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--timeout-graceful-shutdown",
            "10",
            "--workers",
            str(processes),
        ]
    else:
        env = {"THREADS": "8", **env}  # gunicorn.conf.py reads THREADS (and so does the pool's size)
        argv = [
            str(BIN / "gunicorn"),
            "-c",
            str(ROOT / "gateway" / "gunicorn.conf.py"),
            "-b",
            f"127.0.0.1:{port}",
            "--workers",
            str(processes),
            "gateway.wsgi:app",
        ]
    return Process(argv, env, name or f"gateway-{kind}").start()


def start_gateway(kind, env, processes=1):
    """`gateway_run` on a free port, once it answers /health/live: (process, base URL). The
    process is closed if it never answers."""
    port = free_port()
    process = gateway_run(kind, env, port, processes=processes)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/health/live", process)
    except BaseException:
        process.close()
        raise
    return process, url


def wait_for_http(url, process=None, timeout=30):
    """Block until `url` answers at all (any status)."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        if process is not None and not process.running():
            raise RuntimeError(f"{process.name} exited:\n{process.output()[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer within {timeout}s") from None
            time.sleep(0.1)
