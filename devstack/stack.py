"""Workers and gateways as one context manager: the whole system, as scripts/run, the drills and the
cluster tests start it. (bench/targets.py starts what it measures from the same pieces.)"""

import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from devstack.gateways import gateway_command
from devstack.isolation import free_port
from devstack.layout import SERVICE_NAMES, SERVICES, WORKER_MODULES, parse_layout, worker_command
from devstack.netns import in_netns
from devstack.processes import ChildProcess, wait_for_services


class Started:
    """A context manager of what `start()` starts and `close()` stops: closed when the start
    fails half-way, too."""

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()


@dataclass
class Gateway:
    kind: str  # devstack.gateways.KINDS
    url: str
    process: ChildProcess


class Stack(Started):
    """`nameko run` processes, then gateways; started in `__enter__`, stopped all at once in
    `__exit__`, or when any one of them exits in `wait()`.

    Workers: `instances` processes of `modules` (default: all three services), or the groups of a
    `layout` (devstack.layout).
    Gateways: kinds, or (kind, host, port); more with `add_gateway`. `worker_env` and `gateway_env`
    are whole environments. With `ready_timeout`, `start()` returns once `services` answer and each
    gateway is live. Logs: echoed (`echo`), kept in `log_dir`, or removed on close."""

    def __init__(
        self,
        worker_env,
        gateway_env,
        gateways=(),
        *,
        layout=None,
        modules=WORKER_MODULES,
        instances=1,
        services=SERVICE_NAMES,
        ready_timeout=None,
        amqp_ssl=None,
        gateway_processes=None,
        kill_workers=False,
        echo=False,
        log_dir=None,
    ):
        self.worker_env, self.gateway_env = worker_env, gateway_env
        if layout is not None:  # [(label, modules, replicas)]
            self.groups = [("+".join(names), [SERVICES[n][0] for n in names], n) for names, n in parse_layout(layout)]
        else:
            self.groups = [("+".join(m.rsplit(".", 1)[-1] for m in modules), list(modules), instances)]
        self.gateway_specs = [(spec,) if isinstance(spec, str) else tuple(spec) for spec in gateways]
        self.services, self.ready_timeout, self.amqp_ssl = list(services), ready_timeout, amqp_ssl
        self.gateway_processes = gateway_processes
        self.kill_workers = kill_workers  # SIGKILL on close, as a crash: a test's workers have nothing to drain
        self.echo, self.log_dir = echo, log_dir
        self.workers, self.gateways = [], []

    @property
    def amqp_uri(self):
        return self.worker_env["AMQP_URI"]

    def start(self):
        for label, modules, replicas in self.groups:
            for replica in range(replicas):
                self.add_worker(modules, f"workers-{label}" + (f"-{replica + 1}" if replicas > 1 else ""))
        if self.ready_timeout is not None:
            wait_for_services(self.amqp_uri, self.services, self.workers, self.ready_timeout, self.amqp_ssl)
        for spec in self.gateway_specs:
            self.add_gateway(*spec)

    def add_worker(self, modules=None, name=None, netns=None):
        """One more `nameko run` of `modules` (default: the first group's), started (in the network
        namespace `netns`, if given: devstack.netns); not waited for."""
        label, first, _ = self.groups[0]
        name = self._unique(name or f"workers-{label}")
        argv = in_netns(netns, worker_command(modules or first))
        process = ChildProcess(name, argv, self.worker_env, self.log_dir, echo=self.echo)
        self.workers.append(process.start())
        return process

    def add_gateway(self, kind, host="127.0.0.1", port=None, netns=None, **overrides):
        """One more gateway of `kind` on host:port (default: a free port; in the network namespace
        `netns` if given), its environment `gateway_env` with `overrides`; live once returned if
        the stack has a `ready_timeout`."""
        env = {**self.gateway_env, **{key: str(value) for key, value in overrides.items()}}
        gateway = start_gateway(
            kind,
            env,
            host,
            port,
            processes=self.gateway_processes,
            netns=netns,
            name=self._unique(f"gateway-{kind}"),
            log_dir=self.log_dir,
            echo=self.echo,
            timeout=self.ready_timeout,
        )
        self.gateways.append(gateway)
        return gateway

    def url(self, kind="asgi"):
        """The base URL of the first gateway of `kind`."""
        return next(gateway.url for gateway in self.gateways if gateway.kind == kind)

    @property
    def processes(self):
        return [gateway.process for gateway in self.gateways] + self.workers

    def _unique(self, name):
        """`name`, or `name-2`, `name-3`... if a process of the stack has it (log files are named after it)."""
        taken, candidate, n = {process.name for process in self.processes}, name, 1
        while candidate in taken:
            n += 1
            candidate = f"{name}-{n}"
        return candidate

    def wait(self, stop_requested=lambda: False, poll=0.2):
        """Until one of the processes exits (then it is returned) or `stop_requested()` (None)."""
        while not stop_requested():
            for process in self.processes:
                if not process.running():
                    return process
            time.sleep(poll)
        return None

    def close(self):
        for process in self.processes:  # all at once: a nameko run takes seconds to stop gracefully
            if self.kill_workers and process in self.workers:
                process.kill()
            else:
                process.terminate()
        for process in self.processes:
            if self.log_dir is None:
                process.close(timeout=20)  # its log goes too
            else:
                process.stop(timeout=20)


def start_gateway(
    kind,
    env,
    host="127.0.0.1",
    port=None,
    processes=None,
    name=None,
    log_dir=None,
    echo=False,
    timeout=30.0,
    netns=None,
):
    """The gateway `kind` (devstack.gateways) on host:port (default: a free port), in the network
    namespace `netns` if given, with the environment `env` (its THREADS: the server's threads): a
    Gateway. With a `timeout`, once it answers /health/live (closed if it never does)."""
    port = port or free_port()
    threads = env.get("THREADS")
    argv = gateway_command(kind, port, host=host, processes=processes, threads=int(threads) if threads else None)
    argv = in_netns(netns, argv)
    process = ChildProcess(name or f"gateway-{kind}", argv, env, log_dir, echo=echo).start()
    gateway = Gateway(kind, f"http://{host}:{port}", process)
    if timeout is not None:
        try:
            wait_for_http(f"{gateway.url}/health/live", process, timeout)
        except BaseException:
            process.close()
            raise
    return gateway


def wait_for_http(url, process=None, timeout=30):
    """Block until `url` answers at all (any status); fail at once if `process` exits meanwhile."""
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
