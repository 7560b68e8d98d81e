"""Real processes for integration tests, started as devstack starts them for everyone."""

import os
import time

from devstack.gateways import gateway_command
from devstack.isolation import free_port
from devstack.layout import WORKER_MODULES, worker_command
from devstack.processes import BIN, ROOT, ChildProcess
from devstack.processes import wait_for_services as wait_for_processes

__all__ = ["BIN", "ROOT", "free_port"]  # for the tests, beside what is defined here


def worker_env(amqp_uri, redis_uri, redis_prefix, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AMQP_", "REDIS_"))}
    env.update(
        AMQP_URI=amqp_uri, REDIS_URI=redis_uri, REDIS_KEY_PREFIX=redis_prefix, PYTHONUNBUFFERED="1", METRICS_PORT="0"
    )  # many workers run side by side here; tests that read metrics pick a port
    env.update({k: str(v) for k, v in extra.items()})
    return env


def nameko_run(env, modules=WORKER_MODULES, name="workers"):
    return ChildProcess(name, worker_command(modules), env).start()


def wait_for_services(amqp_uri, services, process=None, timeout=30, ssl=None):
    """Block until each service answers (see devstack.processes.wait_for_services)."""
    wait_for_processes(amqp_uri, services, [process] if process else [], timeout, ssl)


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


def start_gateway(kind, env, processes=1):
    """The gateway `kind` (devstack.gateways) on a free port, once it answers /health/live:
    (process, base URL). The WSGI servers get 8 threads (and so 8 proxies) unless THREADS says.
    The process is closed if it never answers."""
    port = free_port()
    env = {"THREADS": "8", **env}  # gunicorn.conf.py and the pool's size read THREADS
    argv = gateway_command(kind, port, processes=processes, threads=int(env["THREADS"]) if kind == "waitress" else None)
    process = ChildProcess(f"gateway-{kind}", argv, env).start()
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
            raise RuntimeError(f"{process.name} exited:\n{process.output(3000)}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer within {timeout}s") from None
            time.sleep(0.1)
