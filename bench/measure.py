"""One measurement: a target under one scenario's load, with the CPU time every process of the
stack used over exactly the measured window (warm-up excluded), per request.

Process groups: the gateway (all its processes), the workers (all `nameko run`s), RabbitMQ (the
beam.smp process) and Redis (redis-server). The last two are the machine's shared services:
anything else using them during the window is counted too.
"""

import os
import time
import urllib.parse
from collections import Counter

import psutil

from bench import load
from workers.common.redis_clients import SENTINEL_SCHEMES, parse_sentinel_uri

GROUPS = ("gateway", "workers", "rabbitmq", "redis")
CPUS = os.cpu_count() or 1
LOADGEN_SATURATED = 0.85  # of a core per generator thread
MACHINE_SATURATED = 0.95  # of all cores
HOT_PROCESS = 0.85  # cores: a single (GIL-bound) process this busy is probably the limit
OTHER_LOAD = 0.25  # cores used outside the stack and the load generator worth a warning
CLOCK_TICK_MS = 1000 // os.sysconf("SC_CLK_TCK")  # the resolution of the kernel's CPU times (10 ms)


class Probe:
    """The processes of each group, and their CPU time between `start()` and `stop()`."""

    def __init__(self, target, bench_targets):
        self.target, self.bench_targets = target, bench_targets
        self.services = {  # found once: the broker and Redis do not restart during a run
            "rabbitmq": sorted(
                {
                    p
                    for uri in bench_targets.options.amqp_base.split(";")
                    for p in service_pids("beam.smp", _port(uri, 5672))
                }
            ),
            "redis": sorted(
                {p for port in redis_ports(bench_targets.options.redis_uri) for p in service_pids("redis-server", port)}
            ),
        }

    def pids(self):
        return {"gateway": self.target.pids(), "workers": self.bench_targets.worker_pids(), **self.services}

    def start(self):
        self.before_pids = self.pids()
        self.before = {g: cpu_snapshot(p) for g, p in self.before_pids.items()}
        self.machine_before = machine_times()
        self.started = time.monotonic()

    def stop(self):
        """{"wall_s", "cpu_s": {group: seconds or None}, "pids": {...}, "machine_busy_cores"}."""
        wall = time.monotonic() - self.started
        now_pids = self.pids()
        pids = {g: sorted(set(self.before_pids[g]) | set(now_pids[g])) for g in GROUPS}
        after = {g: cpu_snapshot(p) for g, p in pids.items()}
        busy0, irq0, total0 = self.machine_before
        busy1, irq1, total1 = machine_times()
        cpu = {g: cpu_seconds_between(self.before[g], after[g]) if pids[g] else None for g in GROUPS}
        machine = (busy1 - busy0) / (total1 - total0) * CPUS if total1 > total0 else None
        interrupts = (irq1 - irq0) / (total1 - total0) * CPUS if total1 > total0 else None
        labels = {pid: self.target.name for pid in pids["gateway"]}
        for services, process in self.bench_targets.workers:
            labels.update({pid: "+".join(services) for pid in process.pids()})
        per_process = []
        for g in GROUPS:
            for pid in sorted(after[g]):
                seconds = cpu_seconds_between(self.before[g], {pid: after[g][pid]})
                per_process.append(
                    {
                        "group": g,
                        "pid": pid,
                        "name": process_name(pid),
                        "label": labels.get(pid, g),
                        "cpu_s": round(seconds, 3),
                        "cores": round(seconds / wall, 3) if wall else None,
                    }
                )
        return {
            "wall_s": wall,
            "cpu_s": cpu,
            "pids": pids,
            "machine_busy_cores": machine,
            "interrupt_cores": interrupts,
            "per_process": per_process,
        }


def cpu_snapshot(pids):
    """{pid: (create time, user + system CPU seconds)} for those of `pids` still alive."""
    snapshot = {}
    for pid in pids:
        try:
            process = psutil.Process(pid)
            with process.oneshot():
                times = process.cpu_times()
                snapshot[pid] = (process.create_time(), times.user + times.system)
        except psutil.NoSuchProcess:
            continue
    return snapshot


def cpu_seconds_between(before, after):
    """CPU seconds the processes used between two snapshots. A process only in `after` started
    in between, so all of its time counts; one only in `before` exited, and its last ticks are lost.
    The create time tells a reused pid from the original."""
    seconds = 0.0
    for pid, (created, now) in after.items():
        then = before.get(pid)
        seconds += now - then[1] if then is not None and then[0] == created else now
    return seconds


def machine_times():
    """(busy, interrupts, total) CPU seconds of all CPUs since boot. `interrupts` (irq + softirq,
    e.g. loopback TCP) is part of `busy` but charged to no process."""
    t = psutil.cpu_times()
    busy = t.user + t.nice + t.system + t.irq + t.softirq  # steal: the hypervisor's, not ours
    return busy, t.irq + t.softirq, busy + t.idle + t.iowait + t.steal  # guest time is already in user


def rss_bytes(pids):
    """The resident set size of `pids` together (those still alive)."""
    total = 0
    for pid in pids:
        try:
            total += psutil.Process(pid).memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


def process_name(pid):
    try:
        return psutil.Process(pid).name()
    except psutil.NoSuchProcess:
        return "?"


def listening_pids(port, processes=None):
    """Those of `processes` (default: all on this machine) holding a TCP socket listening on `port`
    (gunicorn's master and workers all hold it; uvicorn one process)."""
    found = []
    for process in psutil.process_iter() if processes is None else processes:
        try:
            sockets = process.net_connections(kind="tcp")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if any(s.status == psutil.CONN_LISTEN and s.laddr.port == port for s in sockets):
            found.append(process.pid)
    return sorted(found)


def _port(uri, default):
    if not uri:
        return default
    try:
        return urllib.parse.urlsplit(uri.strip()).port or default
    except ValueError:
        return default


def redis_ports(uri):
    """The ports of the Redis tier: the server's; for a Sentinel set (redis+sentinel://), the
    sentinels' and those of the primary and replicas they name (replication is part of the cost)."""
    if not uri.startswith(tuple(f"{scheme}://" for scheme in SENTINEL_SCHEMES)):
        return [_port(uri, 6379)]
    from redis.sentinel import Sentinel  # only for a Sentinel set

    target = parse_sentinel_uri(uri)
    sentinel = Sentinel(target.sentinels, sentinel_kwargs=target.sentinel_options)
    try:
        servers = [sentinel.discover_master(target.service_name), *sentinel.discover_slaves(target.service_name)]
    finally:
        for client in sentinel.sentinels:
            client.close()
    return [port for _, port in target.sentinels] + [port for _, port in servers]


def service_pids(name, port):
    """The processes named `name` listening on `port`; all processes named `name` if none is (the
    service may listen elsewhere, or run in a container: then nothing is found at all)."""
    named = [p for p in psutil.process_iter(["name"]) if p.info["name"] == name]
    return listening_pids(port, named) or sorted(p.pid for p in named)


def warm_up(target, requests, settings, run_id):
    if settings.warmup > 0:  # the built-in generator: it takes fractions of a second, wrk does not
        load.run(
            "builtin",
            target.url,
            requests,
            settings.connections,
            duration=settings.warmup,
            timeout=settings.timeout,
            run_id=run_id,
        )


def measure(target, bench_targets, scenario, requests, settings, run_id):
    """Warm up, then the measured load; the run's record for the report."""
    generator = settings.generator
    warm_up(target, requests, settings, run_id)
    probe = Probe(target, bench_targets)
    probe.start()
    result = load.run(
        generator,
        target.url,
        requests,
        settings.connections,
        duration=settings.duration,
        timeout=settings.timeout,
        threads=settings.threads,
        run_id=run_id,
    )
    window = probe.stop()
    return record(target, scenario, generator, settings, result, window)


def measure_memory(target, bench_targets, scenario, requests, settings, run_id):
    """Gateway RSS after the warm-up, after N1 and after N2 requests (built-in generator: it can
    count); the load figures are over the N2 requests."""
    first, total = settings.memory_requests
    warm_up(target, requests, settings, run_id)
    rss = {"after_warmup": rss_bytes(target.pids())}
    probe = Probe(target, bench_targets)
    probe.start()
    one = load.run(
        "builtin", target.url, requests, settings.connections, count=first, timeout=settings.timeout, run_id=run_id
    )
    rss[f"after_{first}"] = rss_bytes(target.pids())
    two = load.run(
        "builtin",
        target.url,
        requests,
        settings.connections,
        count=total - first,
        timeout=settings.timeout,
        run_id=run_id,
    )
    rss[f"after_{total}"] = rss_bytes(target.pids())
    window = probe.stop()
    combined = dict(two)  # latency percentiles of the second (longer) phase
    combined["requests"] = one["requests"] + two["requests"]
    combined["duration_s"] = one["duration_s"] + two["duration_s"]
    combined["errors"] = {k: one["errors"].get(k, 0) + two["errors"].get(k, 0) for k in two["errors"]}
    combined["statuses"] = dict(Counter(one.get("statuses", {})) + Counter(two.get("statuses", {})))
    combined["loadgen"] = {
        "cpu_s": one["loadgen"]["cpu_s"] + two["loadgen"]["cpu_s"],
        "wall_s": one["loadgen"]["wall_s"] + two["loadgen"]["wall_s"],
        "threads": 1,
    }
    combined["loadgen"]["cores"] = combined["loadgen"]["cpu_s"] / max(combined["loadgen"]["wall_s"], 1e-9)
    entry = record(target, scenario, "builtin", settings, combined, window)
    base = rss[f"after_{first}"]
    growth = (rss[f"after_{total}"] - base) / base * 100 if base else None
    entry["memory"] = {
        "rss_kib": {k: (v // 1024 if v else None) for k, v in rss.items()},
        "checkpoints": [first, total],
        "growth_pct": None if growth is None else round(growth, 2),
        "limit_pct": settings.memory_limit_pct,
        "flat": None if growth is None else growth <= settings.memory_limit_pct,
        "processes": len(target.pids()),
    }
    if growth is None:
        entry["flags"].append("gateway RSS unknown: no local process found for this target")
    elif growth > settings.memory_limit_pct:
        entry["flags"].append(
            f"gateway RSS grew {growth:.1f}% from {first} to {total} requests "
            f"(target: flat within {settings.memory_limit_pct:g}%)"
        )
    return entry


def record(target, scenario, generator, settings, result, window):
    requests = result["requests"]
    duration = result["duration_s"]
    errors = result["errors"]
    socket_errors = {k: errors.get(k, 0) for k in ("connect", "read", "write", "timeout")}
    cpu = window["cpu_s"]
    known = [cpu[g] for g in GROUPS if cpu[g] is not None]
    stack_total = sum(known) if known else None
    per_request = {g: (cpu[g] * 1e6 / requests if cpu[g] is not None and requests else None) for g in GROUPS}
    per_request["stack_total"] = stack_total * 1e6 / requests if stack_total is not None and requests else None
    wall = window["wall_s"]
    cores = {g: (cpu[g] / wall if cpu[g] is not None and wall else None) for g in GROUPS}
    cores["stack_total"] = stack_total / wall if stack_total is not None and wall else None
    loadgen = result["loadgen"]
    cores["loadgen"] = loadgen["cores"]
    cores["machine_busy"] = window["machine_busy_cores"]
    # irq + softirq time (mostly loopback TCP between all of these) is charged to no process
    cores["interrupts"] = window["interrupt_cores"]
    # what the rest of the machine used meanwhile (the harness itself is negligible): other load
    cores["other"] = (
        max(
            0.0, cores["machine_busy"] - (cores["interrupts"] or 0.0) - (cores["stack_total"] or 0.0) - loadgen["cores"]
        )
        if cores["machine_busy"] is not None
        else None
    )
    latency = {k: (v / 1000 if v is not None else None) for k, v in result["latency_us"].items()}
    entry = {
        "target": target.name,
        "scenario": scenario.name,
        "url": target.url,
        "generator": generator,
        "connections": settings.connections,
        "duration_s": round(duration, 3),
        "requests": requests,
        "rps": round(requests / duration, 1) if duration else 0.0,
        "latency_ms": {k: (round(v, 3) if v is not None else None) for k, v in latency.items()},
        "errors": {
            "non_2xx": errors.get("non_2xx", 0),
            "socket": socket_errors,
            "total": errors.get("non_2xx", 0) + sum(socket_errors.values()),
        },
        "statuses": result.get("statuses"),
        "cpu_us_per_request": {k: (round(v, 1) if v is not None else None) for k, v in per_request.items()},
        "cpu_cores": {k: (round(v, 3) if v is not None else None) for k, v in cores.items()},
        "cpu_window_s": round(wall, 3),
        "processes": window["pids"],
        "per_process": window["per_process"],
        "loadgen": {
            "cpu_s": round(loadgen["cpu_s"], 3),
            "cores": round(loadgen["cores"], 3),
            "threads": loadgen["threads"],
            "saturated": loadgen["cores"] >= LOADGEN_SATURATED * loadgen["threads"],
        },
        "flags": [],
    }
    flags = entry["flags"]
    if entry["loadgen"]["saturated"]:
        flags.append(
            f"LOAD GENERATOR BOUND: {generator} used {loadgen['cores']:.2f} cores with "
            f"{loadgen['threads']} thread(s): the stack may be faster than measured"
        )
    if cores["machine_busy"] is not None and cores["machine_busy"] >= MACHINE_SATURATED * CPUS:
        flags.append(
            f"machine CPU saturated ({cores['machine_busy']:.2f} of {CPUS} cores busy): "
            "stack and load generator compete for the CPUs"
        )
    for p in window["per_process"]:
        if p["cores"] is not None and p["cores"] >= HOT_PROCESS and p["group"] in ("gateway", "workers"):
            flags.append(
                f"CPU-BOUND PROCESS: {p['group']} pid {p['pid']} ({p['label']}) used {p['cores']:.2f} "
                "cores: one Python process near a full core is likely the bottleneck"
            )
    if cores["other"] is not None and cores["other"] >= OTHER_LOAD:
        flags.append(
            f"other load: processes outside the stack used {cores['other']:.2f} cores during the "
            "window (another job on this machine?): the figures are disturbed"
        )
    unknown = [g for g in GROUPS if cpu[g] is None]
    if unknown:
        flags.append(f"CPU of {', '.join(unknown)} unknown (no local process found): stack_total leaves it out")
    if requests == 0:
        flags.append("no request completed")
    if entry["errors"]["total"]:
        flags.append(f"{entry['errors']['total']} errors")
    if wall < 3:
        flags.append(f"short window ({wall:.1f}s): CPU figures have {CLOCK_TICK_MS} ms resolution")
    return entry
