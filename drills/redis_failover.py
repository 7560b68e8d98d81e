"""The redis-failover drill: kill -9 the Redis primary of a Sentinel set under mixed load.

While the sentinels fail over (a replica is promoted), writes must get a 503 problem with
Retry-After, never a 500 or a hang: every request is answered within `answer_limit`. Reads go on
(the workers read from a replica while the primary is unreachable). Once a replica is promoted,
everything must serve again within `recovery_limit` of the kill, nothing restarted by hand.
Then every write the gateway acknowledged (201 or 204) is checked: the records created must exist,
the trips deleted must be gone. What a failover lost is counted, not hidden: Redis replicates
asynchronously, so a write the primary acknowledged but had not yet sent to a replica is lost
(unless the workers wait for a replica, REDIS_WAIT_REPLICAS).
"""

import collections
import statistics
import threading
import time
import uuid
from dataclasses import dataclass

from devstack.http import Client, Outcome
from drills.report import Report

PROBLEM = "application/problem+json"


@dataclass
class Event:
    kind: str  # "create-airport", "read", "create-trip", "delete-trip"
    started: float  # time.monotonic() when the request went out
    outcome: Outcome
    record: dict | None = None  # what an acknowledged create returned, or the trip a delete removed

    @property
    def acknowledged(self):
        return self.outcome.status in (201, 204)


def redis_failover(
    url,
    kill_primary,
    *,
    restart=None,
    concurrency=8,
    before=2.0,
    after=3.0,
    settle=1.0,
    answer_limit=5.0,
    recovery_limit=15.0,
    max_lost=None,
    token=None,
):
    """Mixed load for `before` seconds, `kill_primary()`, load until `after` seconds past the
    recovery (the first write that succeeds after the kill), then `restart()` (the dead node back,
    as a replica) if given, and the check of every acknowledged write. `max_lost`: how many lost
    acknowledged writes the drill tolerates (None: counted and reported only)."""
    report = Report("redis-failover")
    client = Client(url, token, timeout=answer_limit + 30)
    run = uuid.uuid4().hex[:8]
    seeds = []
    for n in range(2):
        created = client.post("/airports", {"name": f"failover-{run}-seed-{n}"})
        if not report.check(created.status == 201, f"before the fault: {created.describe()}"):
            return report
        seeds.append(created.json())

    events, lock, stop = [], threading.Lock(), threading.Event()

    def record(event):
        with lock:
            events.append(event)

    def traffic(n):
        mine, step = [], 0  # mine: this thread's acknowledged trips, not deleted yet
        while not stop.is_set():
            step += 1
            started = time.monotonic()
            if step % 6 in (1, 2):
                # Half the creates carry a key; the others rely on the delivery id alone.
                headers = {"Idempotency-Key": f"{run}-{n}-{step}"} if step % 2 else {}
                outcome = client.post("/airports", {"name": f"failover-{run}-{n}-{step}"}, headers=headers)
                record(Event("create-airport", started, outcome, outcome.json() if outcome.status == 201 else None))
            elif step % 6 in (3, 4):
                outcome = client.get(f"/airports/{seeds[step % 2]['id']}")
                record(Event("read", started, outcome))
            elif step % 6 == 5 or not mine:
                body = {"airport_from": seeds[0]["id"], "airport_to": seeds[1]["id"]}
                outcome = client.post("/trips", body)
                trip = outcome.json() if outcome.status == 201 else None
                if trip:
                    mine.append(trip)
                record(Event("create-trip", started, outcome, trip))
            else:
                trip = mine.pop(0)
                outcome = client.request("DELETE", f"/trips/{trip['id']}")
                record(Event("delete-trip", started, outcome, trip))

    threads = [threading.Thread(target=traffic, args=(n,), daemon=True) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    time.sleep(before)
    kill_primary()
    killed_at = time.monotonic()  # after the hook: it may take a while before it kills (a command's start-up)
    recovered_at = _wait_for_recovery(events, lock, killed_at, recovery_limit)
    time.sleep(after)
    stop.set()
    for thread in threads:
        thread.join(answer_limit + 30)

    report.stats["requests"] = len(events)
    _check_answers(report, events, answer_limit)
    if not report.check(
        recovered_at is not None, f"no write succeeded within {recovery_limit}s of the primary's death"
    ):
        return report
    report.stats["writes_recovered_after"] = f"{recovered_at - killed_at:.1f}s"
    _check_the_failover_window(report, events, killed_at, recovered_at)
    _check_after_recovery(report, events, recovered_at, settle)
    report.stats["create_latency_before_kill"] = _latency(
        [e for e in events if e.kind == "create-airport" and e.acknowledged and e.started < killed_at]
    )

    if restart is not None:
        restart()
        after_restart = client.post("/airports", {"name": f"failover-{run}-after-restart"})
        report.check(after_restart.status == 201, f"after the node's restart: {after_restart.describe()}")
    _count_lost_writes(report, client, events, max_lost)
    return report


def _wait_for_recovery(events, lock, killed_at, limit):
    """The start time of the first write that went out after the kill and succeeded; None if none
    did within `limit` seconds."""
    while time.monotonic() - killed_at < limit:
        with lock:
            succeeded = [
                e.started for e in events if e.kind.startswith("create") and e.acknowledged and e.started > killed_at
            ]
        if succeeded:
            return min(succeeded)
        time.sleep(0.05)
    return None


def _check_answers(report, events, answer_limit):
    """Every request answered, in time, with success or a 503 problem with Retry-After."""
    report.stats["statuses"] = dict(collections.Counter(e.outcome.status for e in events))
    slowest = max((e.outcome.elapsed for e in events), default=0.0)
    report.stats["slowest_answer"] = f"{slowest:.2f}s"
    for event in events:
        outcome = event.outcome
        if outcome.status == 503:
            report.check(
                "retry-after" in outcome.headers and outcome.headers.get("content-type") == PROBLEM,
                f"a 503 without Retry-After or problem document: {outcome.describe()}",
            )
        elif not (event.kind == "delete-trip" and outcome.status == 404):  # its create was lost: counted there
            report.check(outcome.ok, f"{event.kind}: neither a success nor a 503: {outcome.describe()}")
        report.check(outcome.elapsed < answer_limit, f"answered after more than {answer_limit}s: {outcome.describe()}")


def _check_the_failover_window(report, events, killed_at, recovered_at):
    """Reads went on while writes could not; the figures of the window."""
    window = [e for e in events if killed_at <= e.started < recovered_at]
    reads = [e for e in window if e.kind == "read"]
    writes = [e for e in window if e.kind != "read"]
    report.stats["during_failover"] = (
        f"{sum(e.outcome.ok for e in reads)}/{len(reads)} reads served, "
        f"{sum(e.outcome.status == 503 for e in writes)}/{len(writes)} writes refused with 503"
    )
    report.check(reads, "no read went out while the failover ran: the drill saw nothing of it")
    for event in reads:
        report.check(event.outcome.ok, f"a read failed during the failover: {event.outcome.describe()}")


def _check_after_recovery(report, events, recovered_at, settle):
    late = [e for e in events if e.started >= recovered_at + settle]
    failed = [e for e in late if not e.outcome.ok]
    report.stats["after_recovery"] = f"{len(late) - len(failed)}/{len(late)} served"
    report.check(late, "the drill stopped before the stack had settled after the failover")
    for event in failed:
        report.fail(
            f"{event.kind} failed {event.started - recovered_at:.2f}s after the recovery: {event.outcome.describe()}"
        )


def _count_lost_writes(report, client, events, max_lost):
    """Every acknowledged write, checked: created records exist (as acknowledged), deleted trips
    are gone. A trip whose delete got no acknowledgement is checked for nothing (it may be either);
    one whose delete got a 404 was lost before it."""
    deletes = [e for e in events if e.kind == "delete-trip"]
    deleted = {e.record["id"] for e in deletes if e.acknowledged}
    gone = {e.record["id"] for e in deletes if e.outcome.status == 404}  # acknowledged, then lost
    maybe_deleted = {e.record["id"] for e in deletes if not e.acknowledged} - gone
    acknowledged, lost = 0, []
    for event in events:
        if not event.acknowledged or event.kind == "read":
            continue
        acknowledged += 1
        if event.kind == "delete-trip":
            found = client.get(f"/trips/{event.record['id']}")
            if found.status != 404:
                lost.append(f"trip {event.record['id']} was deleted (204) and is back: {found.describe()}")
            continue
        if event.record["id"] in gone:
            lost.append(f"trip {event.record['id']} was acknowledged (201), and its delete found it gone")
            continue
        if event.record["id"] in deleted | maybe_deleted:
            continue  # its create is checked through its delete (or cannot be)
        path = "/airports/" if event.kind == "create-airport" else "/trips/"
        found = client.get(path + event.record["id"])
        if found.status != 200 or found.json() != event.record:
            lost.append(f"{event.kind} {event.record['id']} was acknowledged (201): {found.describe()}")
    report.stats["acknowledged_writes"] = acknowledged
    report.stats["lost_writes"] = len(lost)
    for finding in lost[:5]:
        report.stats.setdefault("lost, the first five", []).append(finding[:160])
    if max_lost is not None:
        report.check(len(lost) <= max_lost, f"{len(lost)} acknowledged writes lost (at most {max_lost} allowed)")


def _latency(events):
    if len(events) < 2:
        return "n/a"
    times = sorted(e.outcome.elapsed for e in events)
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    return f"p50 {statistics.median(times) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms over {len(times)}"
