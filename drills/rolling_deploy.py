"""The rolling-deploy drill: gateways behind haproxy (Debian's), health-checked on /health/ready
with `option redispatch` and retries, replaced one at a time under mixed load: a new one started
first, then the old one sent SIGTERM; then the workers rolled the same way. It starts everything
itself on loopback (a vhost and a Redis prefix of its own, free ports) and removes it all at the
end; it passes when no request failed. SHUTDOWN_GRACE (`grace`) is the gateway's setting under
test: 0 is the servers' own SIGTERM handling (docs/operations.md has the figures of both).
"""

import secrets
import shutil
import signal
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from devstack import rabbitmq
from devstack.gateways import gateway_command
from devstack.http import Client
from devstack.isolation import clean_environment, delete_keys, free_port, vhost_uri
from devstack.layout import worker_command
from devstack.processes import ChildProcess, child_env, sweep
from drills.report import Report

CHECK_INTERVAL_MS, FALL, RISE = 500, 2, 2  # haproxy marks a gateway down within about a second


def haproxy_config(frontend, stats, servers):
    """haproxy in front of `servers` [(name, port)]: /health/ready checked every half second."""
    lines = [
        "global",
        "    maxconn 2000",
        "defaults",
        "    mode http",
        "    timeout connect 1s",
        "    timeout client 30s",
        "    timeout server 30s",
        "    timeout check 2s",
        "    retries 3",
        "    option redispatch",  # a retry after a failed connection goes to another gateway
        f"frontend api\n    bind 127.0.0.1:{frontend}\n    default_backend gateways",
        f"frontend stats\n    bind 127.0.0.1:{stats}\n    stats enable\n    stats uri /stats",
        "backend gateways",
        "    balance roundrobin",
        "    option httpchk GET /health/ready",
        "    http-check expect status 200",
        f"    default-server inter {CHECK_INTERVAL_MS}ms fall {FALL} rise {RISE}",
    ]
    lines += [f"    server {name} 127.0.0.1:{port} check" for name, port in servers]
    return "\n".join(lines) + "\n"


class Balancer:
    """haproxy with a server slot per port in `ports` (slots with nothing behind them stay down)."""

    def __init__(self, ports, run_id, directory):
        self.frontend, self.stats = free_port(), free_port()
        self.slots = {f"g{n}": port for n, port in enumerate(ports)}
        config = Path(directory) / "haproxy.cfg"
        config.write_text(haproxy_config(self.frontend, self.stats, self.slots.items()))
        argv = [shutil.which("haproxy") or "haproxy", "-db", "-f", config]
        self.process = ChildProcess("haproxy", argv, child_env(run_id, base=clean_environment()), directory)
        self.url = f"http://127.0.0.1:{self.frontend}"

    def start(self):
        self.process.start()
        return self

    def states(self):
        """{slot: 'UP' | 'DOWN' | ...} from the stats page."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.stats}/stats;csv", timeout=5) as response:
            rows = [line.split(",") for line in response.read().decode().splitlines() if line.startswith("gateways,")]
        return {row[1]: row[17] for row in rows if row[1] in self.slots}

    def wait(self, slot, state, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.states().get(slot, "").startswith(state):
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"haproxy did not see {slot} {state} within {timeout:g}s")


class Traffic:
    """`concurrency` threads of mixed requests through the balancer until stopped: airport creates
    (half with an Idempotency-Key), reads of them, trip creates."""

    def __init__(self, url, concurrency, run):
        self.client, self.run = Client(url, timeout=30), run
        self.lock, self.outcomes, self.stopping = threading.Lock(), [], threading.Event()
        self.threads = [threading.Thread(target=self._loop, args=(n,), daemon=True) for n in range(concurrency)]

    def start(self):
        for thread in self.threads:
            thread.start()
        return self

    def _loop(self, n):
        mine, step = [], 0
        while not self.stopping.is_set():
            step += 1
            if step % 4 in (1, 2) or len(mine) < 2:
                headers = {"Idempotency-Key": f"{self.run}-{n}-{step}"} if step % 2 else {}
                outcome = self.client.post("/airports", {"name": f"drill-{self.run}-{n}-{step}"}, headers=headers)
                if outcome.status == 201:
                    mine.append(outcome.json()["id"])
            elif step % 4 == 3:
                outcome = self.client.get(f"/airports/{mine[-1]}")
            else:
                outcome = self.client.post("/trips", {"airport_from": mine[-2], "airport_to": mine[-1]})
            with self.lock:
                self.outcomes.append(outcome)

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join(60)
        return self.outcomes


class Deployment:
    """Workers and gateways of one kind on loopback, each started and stopped on its own."""

    def __init__(self, amqp, redis_uri, prefix, run_id, directory, grace):
        self.amqp, self.redis_uri, self.prefix = amqp, redis_uri, prefix
        self.run_id, self.directory, self.grace = run_id, directory, grace
        self.started = 0

    def _env(self, **values):
        base = dict(AMQP_URI=self.amqp, REDIS_URI=self.redis_uri, REDIS_KEY_PREFIX=self.prefix, LOG_LEVEL="WARNING")
        return child_env(self.run_id, base=clean_environment(), **base, **values)

    def worker(self):
        """A `nameko run` of every service, once its /health/ready answers: (process, metrics port)."""
        port, self.started = free_port(), self.started + 1
        process = ChildProcess(
            f"workers-{self.started}", worker_command(), self._env(METRICS_PORT=port), self.directory
        ).start()
        _wait_ok(f"http://127.0.0.1:{port}/health/ready", process)
        return process

    def gateway(self, kind, port):
        self.started += 1
        env = self._env(SHUTDOWN_GRACE=self.grace, THREADS=8)
        process = ChildProcess(f"gateway-{kind}-{self.started}", gateway_command(kind, port), env, self.directory)
        process.start()
        _wait_ok(f"http://127.0.0.1:{port}/health/ready", process)
        return process


def _wait_ok(url, process, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.running():
            raise RuntimeError(f"{process.name} exited:\n{process.output(3000)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready within {timeout:g}s")


def _stop(process, timeout=60.0):
    """SIGTERM to the process itself (as an orchestrator sends it), then wait for it to exit."""
    process.signal(signal.SIGTERM)
    try:
        process.popen.wait(timeout)
    finally:
        process.stop()


def rolling_deploy(
    kinds=("asgi", "wsgi"),
    *,
    amqp_base="amqp://guest:guest@127.0.0.1:5672",
    redis_uri="redis://127.0.0.1:6379/15",
    gateways=2,
    grace=5.0,
    concurrency=8,
    settle=2.0,
):
    """For each gateway kind: `gateways` of it behind haproxy, each replaced in turn under load;
    then (behind the last kind) two worker instances replaced in turn. A Report per kind."""
    run = secrets.token_hex(4)
    run_id, prefix = f"rolling-{run}", f"travel-drill-rolling-{run}:"
    vhost = rabbitmq.create_vhost(f"travel-drill-rolling-{run}")
    directory = tempfile.mkdtemp(prefix="drill-rolling-")
    reports = []
    try:
        deployment = Deployment(vhost_uri(amqp_base, vhost), redis_uri, prefix, run_id, directory, grace)
        workers = [deployment.worker() for _ in range(2)]
        for index, kind in enumerate(kinds):
            with_workers = index == len(kinds) - 1
            reports.append(_roll(deployment, kind, gateways, workers if with_workers else None, concurrency, settle))
    finally:
        sweep(run_id)
        rabbitmq.delete_vhost(vhost)
        delete_keys(redis_uri, prefix)
        shutil.rmtree(directory, ignore_errors=True)
    return reports


def _roll(deployment, kind, count, workers, concurrency, settle):
    report = Report(f"rolling-deploy {kind}" + (" and workers" if workers else ""))
    ports = [free_port() for _ in range(count + 1)]  # one slot more than gateways: the new one's
    balancer = Balancer(ports, deployment.run_id, deployment.directory).start()
    running = {}  # slot -> process
    try:
        for slot, port in list(balancer.slots.items())[:count]:
            running[slot] = deployment.gateway(kind, port)
            balancer.wait(slot, "UP")
        traffic = Traffic(balancer.url, concurrency, deployment.run_id).start()
        time.sleep(settle)
        replaced = 0
        for old in list(running):
            free = next(slot for slot in balancer.slots if slot not in running)
            running[free] = deployment.gateway(kind, balancer.slots[free])
            balancer.wait(free, "UP")
            _stop(running.pop(old))
            replaced += 1
            time.sleep(settle)
        if workers:
            for position in range(len(workers)):
                fresh = deployment.worker()
                _stop(workers[position])
                workers[position] = fresh
                time.sleep(settle)
        outcomes = traffic.stop()
    finally:
        for process in running.values():
            process.stop()
        balancer.process.stop()
    failed = [outcome for outcome in outcomes if not outcome.ok]
    report.stats.update(
        requests=len(outcomes),
        failed=len(failed),
        gateways_replaced=replaced,
        workers_replaced=len(workers) if workers else 0,
        shutdown_grace=f"{deployment.grace:g}s",
    )
    for outcome in failed[:20]:
        report.fail(outcome.describe())
    report.check(len(outcomes) > 0, "no request was made")
    return report
