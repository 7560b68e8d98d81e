"""The checker of a history (drills/history.py) against the records read back after the run: what
was lost, came back, appeared unasked or was stored twice, and what the clients saw of each fault
(failures, the longest stretch without a success, p99 after the fault and after the heal, time to
notice). docs/checker.md defines each figure."""

import itertools
import math
from collections import defaultdict
from dataclasses import dataclass, field

from drills.history import CREATE, DELETE, FAILED, OK, READ, UNKNOWN

WINDOW = 5.0  # seconds after a fault's start, and after its heal, whose requests' p99 is reported
SLOW = 2.0  # seconds: a request slower than this one has not noticed the fault yet


@dataclass(frozen=True)
class Fault:
    name: str
    start: float  # seconds since the run's start (History.since_start of a time.monotonic())
    end: float | None = None  # the heal; None: never healed within the run


@dataclass(frozen=True)
class Anomaly:
    at: float | None  # when the operation it concerns was invoked; None: no operation did
    detail: str


# The findings that break a promise, in the order they are reported; "recovered" creates do not.
ANOMALY_KINDS = ("lost", "resurrected", "unexpected", "duplicated", "replaced", "missing_reads")


@dataclass
class Findings:
    """What one fault (`fault`), or the whole run (`fault` None), cost. A fault covers the
    operations invoked from its start to the next fault's start (the first one: from the run's
    start; the last: to its end), so each operation counts for exactly one fault."""

    fault: Fault | None
    requests: int = 0
    failed: int = 0
    unknown: int = 0
    lost: list = field(default_factory=list)  # acknowledged creates missing at the end
    resurrected: list = field(default_factory=list)  # acknowledged deletes whose record is there
    unexpected: list = field(default_factory=list)  # records nobody asked for, or refused
    duplicated: list = field(default_factory=list)  # one create request stored as several records
    # an acknowledged create gone, the request stored once under another id: a copy of the call ran
    # again after a failover lost the first run's record with its idempotency entry (also lost)
    replaced: list = field(default_factory=list)
    recovered: list = field(default_factory=list)  # creates of unknown outcome that took effect: allowed
    missing_reads: list = field(default_factory=list)  # 404s for an acknowledged record not being deleted
    longest_gap: float = 0.0  # seconds without any request succeeding
    p99_after_fault: float | None = None  # of the requests invoked in the WINDOW after the start
    p99_after_heal: float | None = None  # ... after the heal
    notice: float | None = None  # seconds from the start until no new request was SLOW; None: never

    @property
    def name(self):
        return "whole run" if self.fault is None else self.fault.name

    @property
    def anomalies(self):
        """Every finding that breaks a promise (recovered creates do not)."""
        return [anomaly for kind in ANOMALY_KINDS for anomaly in getattr(self, kind)]


@dataclass
class Verdict:
    run: Findings
    faults: list
    disagreements: list  # where the API's read-back and Redis's differ

    @property
    def valid(self):
        return not self.run.anomalies and not self.disagreements

    def problems(self):
        """One line per anomaly and disagreement."""
        lines = [f"{kind}: {a.detail}" for kind in ANOMALY_KINDS for a in getattr(self.run, kind)]
        return lines + [f"read-backs disagree: {d}" for d in self.disagreements]


def p99(values):
    """The 99th percentile by nearest rank (the value 99 % of the values are at most), None for none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def check(history, api, redis=None, faults=(), *, window=WINDOW, slow=SLOW):
    """The Verdict on `history` (a History: its operations, and `run`, the prefix of the markers
    that make a record this run's), given the records read back through the API (`api`) and
    straight from Redis (`redis`): each an iterable of records or {id: record}, None if not read.
    The anomalies are counted on the API's read-back (Redis's when only that one was read)."""
    operations = history.operations
    listed = _records(api) if api is not None else None
    stored = _records(redis) if redis is not None else None
    final = listed if listed is not None else stored or []
    ours = [r for r in final if r["name"].startswith(history.run or "")]
    run = Findings(None)
    _anomalies(run, operations, ours)
    _availability(run, operations, -math.inf, math.inf)
    faults = sorted(faults, key=lambda f: f.start)
    bounds = [-math.inf, *(f.start for f in faults[1:]), math.inf] if faults else []
    spans = itertools.pairwise(bounds)  # a fault's span: from its start to the next one's
    findings = [_scope(run, operations, f, lo, hi, window, slow) for f, (lo, hi) in zip(faults, spans, strict=True)]
    return Verdict(run, findings, _disagreements(listed, stored))


def _records(source):
    """A read-back as a list of records (a listing may hold one twice: kept, to be reported)."""
    return list(source.values()) if isinstance(source, dict) else list(source)


def _anomalies(findings, operations, final):
    """The whole run's anomalies, each at the invocation of the operation it concerns."""
    by_marker = defaultdict(list)
    for record in final:
        by_marker[record["name"]].append(record["id"])
    present = {r["id"] for r in final}
    creates, deletes = defaultdict(list), defaultdict(list)
    for operation in operations:
        if operation.kind == CREATE:
            creates[operation.marker].append(operation)
        elif operation.kind == DELETE:
            deletes[operation.record].append(operation)
    for marker, attempts in creates.items():
        _check_create(findings, marker, attempts, by_marker.pop(marker, []), present, deletes)
    for marker, ids in by_marker.items():
        findings.unexpected.append(Anomaly(None, f"{marker} ({', '.join(ids)}) exists, nobody created it"))
    for record, attempts in deletes.items():
        done = [d for d in attempts if d.outcome == OK]
        if done and record in present:
            findings.resurrected.append(Anomaly(done[0].invoked, f"{record} was deleted, is back"))
    _missing_reads(findings, operations, deletes)


def _check_create(findings, marker, attempts, ids, present, deletes):
    """The create requests carrying `marker` against the records found with it (`ids`)."""
    first, outcomes = attempts[0], {a.outcome for a in attempts}
    acknowledged = {a.record for a in attempts if a.outcome == OK and a.record}
    if len(ids) == 1 and len(acknowledged) == 1 and ids[0] not in acknowledged:
        findings.replaced.append(
            Anomaly(first.invoked, f"{marker} acknowledged as {[*acknowledged][0]}, stored as {ids[0]}")
        )
    elif len(set(ids) | acknowledged) > 1:
        findings.duplicated.append(Anomaly(first.invoked, f"{marker} stored as {sorted(set(ids) | acknowledged)}"))
    if OK in outcomes:
        for record in acknowledged or {None}:  # None: acknowledged, its id unknown; the marker tells
            gone = not ids if record is None else record not in present
            if gone and not any(d.outcome in (OK, UNKNOWN) for d in deletes.get(record, ())):
                findings.lost.append(Anomaly(first.invoked, f"{marker} ({record}) was acknowledged, is gone"))
    elif ids and UNKNOWN in outcomes:
        findings.recovered.append(Anomaly(first.invoked, f"{marker} ({', '.join(ids)}) took effect"))
    elif ids:
        findings.unexpected.append(Anomaly(first.invoked, f"{marker} ({', '.join(ids)}) exists, its create failed"))


def _missing_reads(findings, operations, deletes):
    """Reads answered 404 for a record acknowledged before they went out, with no delete of it
    invoked before they came back: the record was (for a while at least) lost."""
    acknowledged = {o.record: o.completed for o in operations if o.kind == CREATE and o.outcome == OK}
    for read in operations:
        if read.kind != READ or read.status != 404 or read.record not in acknowledged:
            continue
        deleting = min((d.invoked for d in deletes.get(read.record, ())), default=math.inf)
        if acknowledged[read.record] <= read.invoked and deleting > (read.completed or math.inf):
            findings.missing_reads.append(
                Anomaly(read.invoked, f"{read.record} read as missing at {read.invoked:.3f}s")
            )


def _scope(run, operations, fault, lo, hi, window, slow):
    """A fault's Findings: the run's anomalies of its span [lo, hi), and its availability."""
    findings = Findings(fault)
    for kind in (*ANOMALY_KINDS, "recovered"):
        setattr(findings, kind, [a for a in getattr(run, kind) if a.at is not None and lo <= a.at < hi])
    _availability(findings, operations, lo, hi)
    heal = math.inf if fault.end is None else fault.end
    findings.p99_after_fault = p99([o.latency for o in operations if fault.start <= o.invoked < fault.start + window])
    if fault.end is not None:
        findings.p99_after_heal = p99([o.latency for o in operations if heal <= o.invoked < heal + window])
    findings.notice = _notice(operations, fault.start, heal, slow)
    return findings


def _availability(findings, operations, lo, hi):
    """Requests, failed and unknown among those invoked in [lo, hi), and the longest stretch of
    that span (bounded by the run's first invocation and last completion) with no success."""
    mine = [o for o in operations if lo <= o.invoked < hi]
    findings.requests = len(mine)
    findings.failed = sum(o.outcome == FAILED for o in mine)
    findings.unknown = sum(o.outcome == UNKNOWN for o in mine)
    if not operations:
        return
    begin = max(lo, min(o.invoked for o in operations))
    end = min(hi, max(o.completed if o.completed is not None else o.invoked for o in operations))
    successes = sorted(o.completed for o in operations if o.outcome == OK and begin <= o.completed <= end)
    edges = [begin, *successes, end]
    findings.longest_gap = max((b - a for a, b in itertools.pairwise(edges)), default=0.0)


def _notice(operations, start, heal, slow):
    """Seconds from `start` to the last invocation of a request slower than `slow` among those
    in flight between `start` and `heal`, provided some request went out after it (before the
    heal); 0 when none was slow; None when no request was seen, or none went out after the last
    slow one: the fault was never noticed."""
    seen = [o for o in operations if o.invoked < heal and (o.completed is None or o.completed > start)]
    late = [o.invoked for o in seen if o.latency > slow]
    if not late:
        return 0.0 if seen else None
    noticed = max(start, max(late))
    if not any(noticed < o.invoked < heal for o in seen):
        return None
    return noticed - start


def _disagreements(listed, stored):
    """Where the API's read-back and Redis's differ: a record in one only, or unlike in both; a
    record the API listed twice."""
    if listed is None or stored is None:
        return []
    found = []
    api, redis = {}, {r["id"]: r for r in stored}
    for record in listed:
        if record["id"] in api:
            found.append(f"{record['id']} listed twice by the API")
        api[record["id"]] = record
    for record_id in sorted(api.keys() - redis.keys()):
        found.append(f"{record_id} ({api[record_id]['name']}) listed by the API, not in Redis")
    for record_id in sorted(redis.keys() - api.keys()):
        found.append(f"{record_id} ({redis[record_id]['name']}) in Redis, not listed by the API")
    for record_id in sorted(api.keys() & redis.keys()):
        unlike = {
            k for k in api[record_id].keys() & redis[record_id].keys() if api[record_id][k] != redis[record_id][k]
        }
        if unlike:
            found.append(f"{record_id}: the API and Redis differ in {', '.join(sorted(unlike))}")
    return found


COLUMNS = (
    "fault",
    "requests",
    "failed",
    "unknown",
    "lost",
    "doubled",
    "resurrected",
    "unexpected",
    "notice s",
    "p99 after fault s",
    "p99 after heal s",
    "longest gap s",
)


def _seconds(value):
    if value is None:
        return "-"
    return "∞" if math.isinf(value) else f"{value:.2f}"


def table_row(findings):
    """One markdown table row (COLUMNS) for a fault's Findings, or the whole run's."""
    notice = "never" if findings.fault is not None and findings.notice is None else _seconds(findings.notice)
    cells = (
        findings.name,
        findings.requests,
        findings.failed,
        findings.unknown,
        len(findings.lost),
        len(findings.duplicated),
        len(findings.resurrected),
        len(findings.unexpected),
        notice,
        _seconds(findings.p99_after_fault),
        _seconds(findings.p99_after_heal),
        _seconds(findings.longest_gap),
    )
    return "| " + " | ".join(str(c) for c in cells) + " |"


def table(verdict):
    """The markdown table: a header, a row per fault, then the whole run's row."""
    head = "| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS)
    return "\n".join([head, *map(table_row, verdict.faults), table_row(verdict.run)])
