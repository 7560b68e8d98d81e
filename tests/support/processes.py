"""Real processes for integration tests, started as devstack starts them for everyone."""

import os

from devstack import stack
from devstack.isolation import free_port
from devstack.layout import WORKER_MODULES, worker_command
from devstack.processes import BIN, ROOT, ChildProcess
from tests.support import broker
from tests.support.servers import REDIS_URI, amqp_uri

__all__ = ["BIN", "ROOT", "free_port"]  # for the tests, beside what is defined here

# A test's gateway: 8 server threads (and so 8 WSGI proxies) unless THREADS says, one process
GATEWAY_DEFAULTS = {"THREADS": "8"}


def worker_env(amqp_uri, redis_uri, redis_prefix, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AMQP_", "REDIS_"))}
    env.update(
        AMQP_URI=amqp_uri, REDIS_URI=redis_uri, REDIS_KEY_PREFIX=redis_prefix, PYTHONUNBUFFERED="1", METRICS_PORT="0"
    )  # many workers run side by side here; tests that read metrics pick a port
    env.update({k: str(v) for k, v in extra.items()})
    return env


def nameko_run(env, modules=WORKER_MODULES, name="workers"):
    return ChildProcess(name, worker_command(modules), env).start()


def start_gateway(kind, env, processes=1):
    """devstack.stack.start_gateway with the tests' defaults, once it answers: (process, base URL)."""
    gateway = stack.start_gateway(kind, {**GATEWAY_DEFAULTS, **env}, processes=processes)
    return gateway.process, gateway.url


def stack_on(amqp, redis_uri, prefix, *, worker_extra=None, gateway_extra=None, gateways=("asgi",), **options):
    """A devstack Stack (not started: a context manager) on `amqp`, `redis_uri` and key `prefix`,
    as the drills and cluster tests run it: worker_env with `worker_extra`, gateways at WARNING
    with `gateway_extra`, ready once started, its workers killed on close. `options`: the Stack's."""
    workers = worker_env(amqp, redis_uri, prefix, **(worker_extra or {}))
    extra = {key: str(value) for key, value in (gateway_extra or {}).items()}
    options = {"ready_timeout": 30, "gateway_processes": 1, "kill_workers": True, **options}
    return stack.Stack(workers, {**workers, **GATEWAY_DEFAULTS, "LOG_LEVEL": "WARNING", **extra}, gateways, **options)


class ServicesOnVhost:
    """Services in one `nameko run` (a devstack Stack without gateways) on a vhost of their own;
    `amqp` is that vhost's URI."""

    def __init__(self, modules, services, redis_prefix="unused:", **env):
        self.vhost = broker.create_vhost("travel-test-stack")
        self.amqp = amqp_uri(self.vhost)
        self.workers = stack_on(
            self.amqp, REDIS_URI, redis_prefix, worker_extra=env, gateways=(), modules=modules, services=services
        )
        try:
            self.workers.start()
        except BaseException:
            self.close()
            raise

    def close(self):
        self.workers.close()
        broker.delete_vhost(self.vhost)
