"""The drills. Each takes the gateway's URL and the fault to inject (a callable: the CLI makes one
from a shell command, the tests from the processes they started) and returns a Report."""

import collections
import json
import threading
import time
import uuid

from devstack.http import Client
from drills.hostile_clients import trickle_once
from drills.report import Report

PROBLEM = "application/problem+json"


def _run_threads(count, target):
    threads = [threading.Thread(target=target, args=(n,), daemon=True) for n in range(count)]
    for thread in threads:
        thread.start()
    return threads


def _walk(client, path):
    """Every item of a paginated listing."""
    items, cursor = [], None
    while True:
        query = "limit=100" + (f"&cursor={cursor}" if cursor else "")
        outcome = client.get(f"{path}{'&' if '?' in path else '?'}{query}")
        if outcome.status != 200:
            raise RuntimeError(f"cannot list {path}: {outcome.describe()}")
        page = outcome.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def worker_failure(url, fault, *, duration=10.0, concurrency=8, fault_at=0.3, token=None, released_within=None):
    """Mixed traffic (creates, reads, trips, changes of a trip's destination with If-Match) while
    `fault` breaks a worker (e.g. SIGKILL one of two instances). Passes when no request failed,
    every acknowledged create exists exactly once, every trip is as its last acknowledged write left
    it, and every airport a trip points to is held. With `released_within` (seconds: more than
    TRIP_HOLD_DEADLINE), the run's trips are then deleted, and every airport of the run must be free
    to delete within that time: no hold outlived its trip."""
    report = Report("worker-failure")
    client = Client(url, token)
    run = uuid.uuid4().hex[:8]
    lock = threading.Lock()
    outcomes, airports, trips, changes = [], {}, [], {}
    stop_at = time.monotonic() + duration

    def change(trip, mine, n, step):
        """Move the trip's destination to another airport of thread `n`'s, as of its ETag."""
        record, etag = trip
        to = next(a for a in reversed(mine) if a not in (record["airport_from"], record["airport_to"]))
        headers = {"If-Match": etag, "Content-Type": "application/merge-patch+json"}
        if step % 4 == 0:
            headers["Idempotency-Key"] = f"{run}-{n}-{step}-change"
        body = json.dumps({"airport_to": to}).encode()
        return client.request("PATCH", f"/trips/{record['id']}", body=body, headers=headers)

    def traffic(n):
        mine, step, my_trip = [], 0, None
        while time.monotonic() < stop_at:
            step += 1
            if step % 10 == 0 and my_trip is not None and len(mine) >= 3:
                outcome = change(my_trip, mine, n, step)
                if outcome.status == 200:
                    my_trip = (outcome.json(), outcome.headers["etag"])
                    with lock:
                        changes[my_trip[0]["id"]] = my_trip[0]
            elif step % 5 in (1, 2, 3) or len(mine) < 2:
                name = f"drill-{run}-{n}-{step}"
                # Half the creates carry a key; the others rely on the delivery id alone.
                headers = {"Idempotency-Key": f"{run}-{n}-{step}"} if step % 2 else {}
                outcome = client.post("/airports", {"name": name}, headers=headers)
                if outcome.status == 201:
                    mine.append(outcome.json()["id"])
                    with lock:
                        airports[name] = mine[-1]
            elif step % 5 == 4:
                outcome = client.get(f"/airports/{mine[-1]}")
            else:
                outcome = client.post("/trips", {"airport_from": mine[-2], "airport_to": mine[-1]})
                if outcome.status == 201:
                    my_trip = (outcome.json(), outcome.headers["etag"])
                    with lock:
                        trips.append(outcome.json())
            with lock:
                outcomes.append(outcome)

    threads = _run_threads(concurrency, traffic)
    time.sleep(duration * fault_at)
    fault()
    for thread in threads:
        thread.join(duration + 120)

    failed = [o for o in outcomes if not o.ok]
    report.stats.update(
        requests=len(outcomes),
        failed=len(failed),
        airports_created=len(airports),
        trips_created=len(trips),
        trips_changed=len(changes),
    )
    for outcome in failed:
        report.fail(outcome.describe())
    if not _check_airports(client, report, run, airports):
        return report
    _check_trips(client, report, trips, changes)
    if released_within is not None:
        _check_nothing_stays_held(client, report, trips, airports.values(), released_within)
    return report


def _check_airports(client, report, run, airports):
    """Every acknowledged airport of the run exists once, and no other; False if it cannot tell."""
    try:
        found = collections.Counter(
            a["name"] for a in _walk(client, "/airports") if a["name"].startswith(f"drill-{run}-")
        )
    except RuntimeError as exc:
        report.fail(f"cannot check for lost or doubled records: {exc}")
        return False
    for name in airports:
        report.check(found[name] == 1, f"airport {name} was acknowledged and exists {found[name]} times")
    for name, count in found.items():
        report.check(name in airports, f"airport {name} exists ({count}x) although its create failed")
    return True


def _check_trips(client, report, trips, changes):
    """Each trip exists once, as its last acknowledged write left it, and holds both its airports."""
    for created in trips:
        trip = changes.get(created["id"], created)  # as its last acknowledged write left it
        try:
            listed = _walk(client, f"/trips?airport={trip['airport_from']}")
        except RuntimeError as exc:
            report.fail(f"cannot check trip {trip['id']}: {exc}")
            continue
        matching = [t for t in listed if t["id"] == trip["id"]]
        report.check(matching == [trip], f"trip {trip['id']} was acknowledged as {trip} and is listed as {matching}")
        for end in ("airport_from", "airport_to"):  # held: refused (never deleted: 409 before anything)
            refused = client.request("DELETE", f"/airports/{trip[end]}")
            report.check(refused.status == 409, f"trip {trip['id']}'s {end} is not held: {refused.describe()}")


def _check_nothing_stays_held(client, report, trips, airport_ids, within):
    """Delete the trips, then every airport must be free to delete within `within` seconds."""
    for trip in trips:
        gone = client.request("DELETE", f"/trips/{trip['id']}")
        report.check(gone.status == 204, f"cannot delete trip {trip['id']}: {gone.describe()}")
    left, deadline = set(airport_ids), time.monotonic() + within
    while left and time.monotonic() < deadline:
        for airport_id in sorted(left):
            if client.request("DELETE", f"/airports/{airport_id}").status in (204, 404):
                left.discard(airport_id)
        time.sleep(0.5 if left else 0)
    report.stats["held_after_deletes"] = len(left)
    for airport_id in sorted(left):
        report.fail(f"airport {airport_id} is still held {within:g} s after its trips were deleted")


def outage(urls, stop, start, *, what, down_for=3.0, recovery_limit=15.0, fast=1.0, token=None):
    """`stop` takes a dependency (the broker, Redis) down for `down_for` seconds. While it is down,
    every request must get a 503 problem within `fast` seconds, and readiness must say 503; after
    `start`, every gateway must serve again within `recovery_limit` seconds, nothing restarted."""
    report = Report(f"{what}-outage")
    clients = [Client(url, token, timeout=30) for url in urls]
    run = uuid.uuid4().hex[:8]
    seeds = []
    for client in clients:
        created = client.post("/airports", {"name": f"drill-{run}"})
        if not report.check(created.status == 201, f"before the outage: {created.describe()}"):
            return report
        seeds.append(created.json()["id"])

    stop()
    down_since, slowest = time.monotonic(), 0.0
    while time.monotonic() - down_since < down_for:
        for client, seed in zip(clients, seeds, strict=True):
            for outcome in (client.get(f"/airports/{seed}"), client.post("/airports", {"name": f"drill-{run}-down"})):
                slowest = max(slowest, outcome.elapsed)
                report.check(
                    outcome.status == 503 and outcome.headers.get("content-type") == PROBLEM,
                    f"{client.base} while {what} is down: {outcome.describe()}",
                )
                report.check(
                    outcome.elapsed < fast,
                    f"{client.base} while {what} is down, slower than {fast}s: {outcome.describe()}",
                )
            ready = client.get("/health/ready")
            report.check(ready.status == 503, f"{client.base} readiness while {what} is down: {ready.describe()}")
        time.sleep(0.2)
    report.stats["slowest_503"] = f"{slowest:.3f}s"

    start()
    up_since = time.monotonic()
    pending = list(zip(clients, seeds, strict=True))
    while pending:
        if time.monotonic() - up_since > recovery_limit:
            report.fail(
                f"{len(pending)} gateway(s) not serving {recovery_limit}s after {what} came back: "
                + "; ".join(c.get(f"/airports/{s}").describe() for c, s in pending)
            )
            break
        pending = [
            (c, s)
            for c, s in pending
            if not (
                c.get(f"/airports/{s}").status == 200
                and c.post("/airports", {"name": f"drill-{run}-back"}).status == 201
                and c.get("/health/ready").status == 200
            )
        ]
        if pending:
            time.sleep(0.25)
    report.stats["recovered_after"] = f"{time.monotonic() - up_since:.1f}s"
    return report


def saturation(url, path, *, concurrency=100, fast=1.0):
    """`concurrency` simultaneous requests to a slow `path`, more than the gateway lets wait:
    the surplus must get a 503 with Retry-After within `fast` seconds, nothing else may fail."""
    report = Report("saturation")
    client = Client(url, timeout=60)
    barrier = threading.Barrier(concurrency)
    outcomes = [None] * concurrency

    def one(n):
        barrier.wait()
        outcomes[n] = client.get(path)

    for thread in _run_threads(concurrency, one):
        thread.join(120)
    refused = [o for o in outcomes if o.status == 503]
    report.stats.update(
        requests=concurrency, refused=len(refused), statuses=dict(collections.Counter(o.status for o in outcomes))
    )
    report.check(refused, "no request was refused: the in-flight bound was not reached")
    for outcome in outcomes:
        report.check(outcome.status in (200, 404, 503, 504), f"unexpected answer: {outcome.describe()}")
    for outcome in refused:
        report.check("retry-after" in outcome.headers, f"503 without Retry-After: {outcome.describe()}")
        report.check(outcome.elapsed < fast, f"refusal slower than {fast}s: {outcome.describe()}")
    return report


def timeouts(url, path, *, requests=200, concurrency=20, limit):
    """Requests to a `path` whose service hangs: each must end in 504 within `limit` seconds, and
    afterwards the gateway must hold no pending call and no extra memory for them."""
    report = Report("timeouts")
    client = Client(url, timeout=limit + 30)
    before = _metrics(client)
    outcomes, lock = [], threading.Lock()
    remaining = iter(range(requests))

    def worker(_):
        while True:
            with lock:
                if next(remaining, None) is None:
                    return
            outcome = client.get(path)
            with lock:
                outcomes.append(outcome)

    for thread in _run_threads(concurrency, worker):
        thread.join(requests * limit)
    for outcome in outcomes:
        report.check(outcome.status == 504 and outcome.elapsed < limit, f"not a timely 504: {outcome.describe()}")
    time.sleep(0.5)
    after = _metrics(client)
    in_flight = after.get("gateway_rpc_calls_in_flight", 0)
    report.check(in_flight == 0, f"{in_flight} calls still in flight after every request ended")
    pending = after.get("gateway_rpc_pending_replies", 0)  # the ASGI client's own table
    report.check(pending == 0, f"{pending} replies still awaited after every request ended")
    if "process_resident_memory_bytes" in before:
        growth = after["process_resident_memory_bytes"] - before["process_resident_memory_bytes"]
        report.stats["memory_growth"] = f"{growth / 2**20:.1f} MiB"
        report.check(growth < 16 * 2**20, f"gateway memory grew by {growth / 2**20:.1f} MiB over {requests} timeouts")
    report.stats["requests"] = len(outcomes)
    return report


def _metrics(client):
    """{name: value} of the gateway's unlabelled metrics."""
    values = {}
    for line in client.get("/metrics").body.decode().splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, _, value = line.partition(" ")
            values[name] = float(value)
    return values


def hostile_input(url, *, slow_clients=30, token=None):
    """Malformed, oversized and slow requests: each must get a clean 4xx (never a 5xx, a hang or
    a stack trace), and the gateway must go on serving everyone else meanwhile."""
    report = Report("hostile-input")
    client = Client(url, token, timeout=30)
    json_headers = {"Content-Type": "application/json"}
    cases = [
        ("a 10 MB body", "POST", "/airports", b'{"name": "' + b"x" * 10_000_000 + b'"}', json_headers),
        ("deeply nested JSON", "POST", "/airports", b"[" * 100_000 + b"]" * 100_000, json_headers),
        ("invalid UTF-8", "POST", "/airports", b'{"name": "\xff\xfe\xfd"}', json_headers),
        ("a huge number", "POST", "/airports", b'{"name": 1' + b"0" * 5000 + b"}", json_headers),
        ("a float overflow", "GET", "/airports?limit=1e999", None, {}),
        ("a negative limit", "GET", "/airports?limit=-5", None, {}),
        ("a limit past 64 bits", "GET", "/airports?limit=" + "9" * 40, None, {}),
        ("a very long id", "GET", "/airports/" + "a" * 8000, None, {}),
        ("a very long query string", "GET", "/airports?cursor=" + "A" * 60_000, None, {}),
        ("a path with NUL", "GET", "/airports/%00", None, {}),
        ("JSON with the wrong types", "POST", "/trips", b'{"airport_from": [], "airport_to": {}}', json_headers),
        ("a body that is not JSON", "POST", "/airports", b"<xml/>", {"Content-Type": "application/xml"}),
    ]
    stop = threading.Event()
    # slow clients: a request's head a byte every 0.2 s, as long as the drill runs
    slow = [threading.Thread(target=trickle_once, args=(url, stop, 0.2), daemon=True) for _ in range(slow_clients)]
    for thread in slow:
        thread.start()
    try:
        for description, method, path, body, headers in cases:
            outcome = client.request(method, path, body=body, headers=headers)
            good = 400 <= outcome.status < 500 and b"Traceback" not in outcome.body
            report.check(good, f"{description}: {outcome.describe()}")
            served = client.get("/health/live")
            report.check(
                served.status == 200 and served.elapsed < 1.0,
                f"after {description}, others were not served promptly: {served.describe()}",
            )
    finally:
        stop.set()
        for thread in slow:
            thread.join(5)
    report.stats["cases"] = len(cases)
    return report
