"""broker-node-loss: kill -9 each node of a RabbitMQ cluster in turn, under mixed load, and bring
it back. Passes when no request failed, no acknowledged record was lost or doubled, the p99 latency
of the requests started in the `window` seconds after each kill stayed within `p99_limit`, and every
gateway is ready again at the end, with nothing restarted by hand (the `restore` hooks bring back
the node only, and should return once it runs; the drill then gives it `settle` seconds to rejoin).

The load, over `concurrency` keep-alive connections: GETs of one airport, airport creates with and
without an Idempotency-Key, trip creates and trip deletes."""

import collections
import threading
import time
import uuid

from devstack.http import Client
from drills.checker import p99 as percentile_99
from drills.report import Report
from drills.scenarios import _run_threads, _walk


class _Traffic:
    """The mixed load: each thread has two airports of its own for its trips."""

    def __init__(self, clients, concurrency, run):
        self.clients, self.concurrency, self.run = clients, concurrency, run
        self.lock = threading.Lock()
        self.outcomes = []  # (started at, outcome)
        self.airports = {}  # name -> id, acknowledged creates
        self.trips = {}  # id -> (airport_from, airport_to), acknowledged and not deleted
        self.deleted = []  # ids of trips whose delete was acknowledged
        self.unknown = set()  # ids of trips whose delete failed: they may exist or not
        # creates that timed out (504) may have happened: the names of such airports, and per
        # airport how many of its trips may exist without their ids being known
        self.airports_unknown = set()
        self.trips_unknown = collections.Counter()
        self.stop = threading.Event()
        self.seed = None
        self.pairs = []

    def prepare(self):
        client = self.clients[0]
        seed = client.post("/airports", {"name": f"drill-{self.run}-seed"})
        if seed.status != 201:
            raise RuntimeError(f"cannot create the seed airport: {seed.describe()}")
        self.seed = seed.json()["id"]
        self.airports[f"drill-{self.run}-seed"] = self.seed
        for n in range(self.concurrency):
            ends = []
            for end in ("a", "b"):
                name = f"drill-{self.run}-pair-{n}{end}"
                created = client.post("/airports", {"name": name})
                if created.status != 201:
                    raise RuntimeError(f"cannot create airport {name}: {created.describe()}")
                ends.append(created.json()["id"])
                self.airports[name] = ends[-1]
            self.pairs.append(ends)

    def thread(self, n):
        client = self.clients[n % len(self.clients)]
        mine, step = [], 0  # this thread's live trips
        while not self.stop.is_set():
            step += 1
            kind = step % 6
            started = time.monotonic()
            if kind in (0, 3):
                outcome = client.get(f"/airports/{self.seed}")
            elif kind in (1, 4):
                name = f"drill-{self.run}-{n}-{step}"
                headers = {"Idempotency-Key": f"{self.run}-{n}-{step}"} if kind == 1 else {}
                outcome = client.post("/airports", {"name": name}, headers=headers)
                if outcome.status == 201:
                    with self.lock:
                        self.airports[name] = outcome.json()["id"]
                elif outcome.status == 504:
                    with self.lock:
                        self.airports_unknown.add(name)
            elif kind == 2 or not mine:
                a, b = self.pairs[n]
                outcome = client.post("/trips", {"airport_from": a, "airport_to": b})
                if outcome.status == 201:
                    mine.append(outcome.json()["id"])
                    with self.lock:
                        self.trips[mine[-1]] = (a, b)
                elif outcome.status == 504:
                    with self.lock:
                        self.trips_unknown[a] += 1
            else:
                trip = mine.pop(0)
                outcome = client.request("DELETE", f"/trips/{trip}")
                if outcome.status == 204:
                    with self.lock:
                        self.trips.pop(trip, None)
                        self.deleted.append(trip)
                else:  # failed (counted as such): it may be gone or not, so it is not tried again
                    with self.lock:
                        self.trips.pop(trip, None)
                        self.unknown.add(trip)
            with self.lock:
                self.outcomes.append((started, outcome))


def broker_node_loss(
    urls,
    faults,
    *,
    concurrency=32,
    warmup=3.0,
    down_for=6.0,
    settle=6.0,
    window=5.0,
    p99_limit=2.0,
    ready_limit=30.0,
    token=None,
    max_failed_share=0.0,
):
    """`faults`: [(kill, restore)] callables, one pair per node, run in turn. `max_failed_share`:
    the share of requests that may fail, each with a clean 503 or 504 problem (the issue's target,
    and the default, is none; a 500 or a request with no answer always fails the drill)."""
    report = Report("broker-node-loss")
    clients = [Client(url, token, timeout=60) for url in urls]
    traffic = _Traffic(clients, concurrency, uuid.uuid4().hex[:8])
    try:
        traffic.prepare()
    except RuntimeError as exc:
        report.fail(str(exc))
        return report
    threads = _run_threads(concurrency, traffic.thread)
    kills = []
    try:
        time.sleep(warmup)
        for number, (kill, restore) in enumerate(faults, 1):
            killed_at = time.monotonic()
            kill()
            kills.append((number, killed_at))
            time.sleep(max(0.0, down_for - (time.monotonic() - killed_at)))
            restore()
            time.sleep(settle)
    finally:
        traffic.stop.set()
        for thread in threads:
            thread.join(120)

    outcomes = traffic.outcomes
    failed = [o for _, o in outcomes if not o.ok]
    allowed = int(max_failed_share * len(outcomes))
    for outcome in failed:
        if outcome.status not in (503, 504) or len(failed) > allowed:
            report.fail(outcome.describe())
    for number, killed_at in kills:
        after = [o.elapsed for started, o in outcomes if killed_at <= started < killed_at + window]
        p99 = percentile_99(after) or 0.0
        report.stats[f"kill {number}"] = (
            f"{len(after)} requests in {window:g}s, p99 {p99:.3f}s, max {max(after, default=0):.3f}s"
        )
        report.check(p99 <= p99_limit, f"kill {number}: p99 {p99:.3f}s over {p99_limit}s in the {window:g}s after")
    report.stats.update(
        requests=len(outcomes),
        failed=len(failed),
        statuses=dict(collections.Counter(o.status for _, o in outcomes)),
        airports_created=len(traffic.airports),
        trips_live=len(traffic.trips),
        trips_deleted=len(traffic.deleted),
        creates_timed_out=f"{len(traffic.airports_unknown)} airports, {sum(traffic.trips_unknown.values())} trips",
    )
    if failed:  # what failed, and when: its request id finds it in the gateway's and workers' logs
        report.stats["first failures"] = _failures(outcomes, kills)
    _check_ready(report, clients, ready_limit)
    _check_records(report, clients[0], traffic)
    return report


def _failures(outcomes, kills, limit=10):
    def since_kill(started):
        number, at = max(((n, t) for n, t in kills if t <= started), default=(0, started), key=lambda k: k[1])
        return f"kill {number} +{started - at:.1f}s" if number else "before the kills"

    failed = [(started, o) for started, o in outcomes if not o.ok]
    return "".join(f"\n    {since_kill(started)}: {o.describe()}" for started, o in failed[:limit])


def _check_ready(report, clients, limit):
    for client in clients:
        deadline = time.monotonic() + limit
        while True:
            ready = client.get("/health/ready")
            if ready.status == 200:
                break
            if time.monotonic() > deadline:
                report.fail(f"{client.base} not ready {limit}s after the last node came back: {ready.describe()}")
                break
            time.sleep(0.5)


def _check_records(report, client, traffic):
    """Every acknowledged airport exists once; no airport exists whose create failed, except once
    if it timed out (a 504 says the outcome is unknown); each thread's airports are the ends of
    exactly its live trips (none lost, doubled or revived), plus at most one trip per create of
    theirs that timed out."""
    prefix = f"drill-{traffic.run}-"
    try:
        found = collections.Counter(a["name"] for a in _walk(client, "/airports") if a["name"].startswith(prefix))
    except RuntimeError as exc:
        report.fail(f"cannot check for lost or doubled records: {exc}")
        return
    for name in traffic.airports:
        report.check(found[name] == 1, f"airport {name} was acknowledged and exists {found[name]} times")
    for name, count in found.items():
        if name in traffic.airports_unknown:
            report.check(count == 1, f"airport {name} exists {count}x after its create timed out")
        else:
            report.check(name in traffic.airports, f"airport {name} exists ({count}x) although its create failed")
    expected = collections.defaultdict(set)
    for trip, (a, _) in traffic.trips.items():
        expected[a].add(trip)
    for a, _ in traffic.pairs:
        try:
            listed = [t["id"] for t in _walk(client, f"/trips?airport={a}")]
        except RuntimeError as exc:
            report.fail(f"cannot list the trips of {a}: {exc}")
            continue
        seen = set(listed) - traffic.unknown
        unexpected, missing = seen - expected[a], expected[a] - seen
        report.check(
            len(unexpected) <= traffic.trips_unknown[a] and not missing and len(listed) == len(set(listed)),
            f"trips of airport {a}: listed {sorted(unexpected)} unexpected ({traffic.trips_unknown[a]} creates "
            f"timed out), {sorted(missing)} missing, {len(listed) - len(set(listed))} doubled",
        )
