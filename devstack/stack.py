"""Workers and gateways as one context manager: the whole system, as scripts/run and the drills
start it. (bench's stack, bench/stack.py, builds its targets from the same pieces.)"""

import time

from devstack.gateways import gateway_command
from devstack.layout import SERVICES, parse_layout, worker_command
from devstack.processes import ChildProcess, wait_for_services


class Stack:
    """`nameko run` processes in `layout` (devstack.layout), then gateways of `gateways` kinds,
    each given its host and port; started in `__enter__`, stopped (all at once, then waited for)
    in `__exit__`, or when any one of them exits in `wait()`.

    `worker_env` and `gateway_env` are the processes' whole environments; `echo` sends their
    output to ours instead of log files."""

    def __init__(self, worker_env, gateway_env, gateways=(), layout="combined", echo=False, threads=None):
        self.worker_env, self.gateway_env = worker_env, gateway_env
        self.groups = parse_layout(layout)
        self.gateway_kinds = list(gateways)  # [(kind, host, port)]
        self.echo, self.threads = echo, threads
        self.workers, self.gateways = [], []

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self):
        for services, replicas in self.groups:
            modules = [SERVICES[name][0] for name in services]
            for replica in range(replicas):
                name = "workers-" + "+".join(services) + (f"-{replica + 1}" if replicas > 1 else "")
                self.workers.append(
                    ChildProcess(name, worker_command(modules), self.worker_env, echo=self.echo).start()
                )
        for kind, host, port in self.gateway_kinds:
            argv = gateway_command(kind, port, host=host, threads=self.threads)
            self.gateways.append(ChildProcess(f"gateway-{kind}", argv, self.gateway_env, echo=self.echo).start())

    @property
    def processes(self):
        return self.gateways + self.workers

    def wait_for_services(self, amqp_uri, timeout=30.0, ssl=None):
        wait_for_services(amqp_uri, [service for _, service in SERVICES.values()], self.workers, timeout, ssl)

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
            process.terminate()
        for process in self.processes:
            process.stop(timeout=20)
