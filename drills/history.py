"""A history of operations, Jepsen's way: each has an invocation, a completion and an outcome
(ok, failed: refused before any effect, unknown: may have taken effect), so that a checker can
tell afterwards what the system owed its clients. Times are seconds since the run's start."""

import dataclasses
import json
import threading
import time
from dataclasses import dataclass

OK, FAILED, UNKNOWN = "ok", "failed", "unknown"
CREATE, READ, DELETE = "create", "read", "delete"


@dataclass
class Operation:
    client: int  # which client (thread) made it
    kind: str  # CREATE, READ, DELETE
    invoked: float  # seconds since the run's start, when the request went out
    completed: float | None = None  # when its answer (or error) came back; None: it never did
    outcome: str = UNKNOWN  # OK, FAILED, UNKNOWN; an operation that never completed stays unknown
    record: str | None = None  # the airport's id, once known (a create's from its answer)
    marker: str | None = None  # a create's unique `name`: matches a stored record to its request
    idempotency_key: str | None = None  # a create's Idempotency-Key, when it sent one
    status: int = 0  # the HTTP status; 0: no HTTP answer
    error: str = ""  # why there was no HTTP answer

    @property
    def latency(self):
        """Seconds from invocation to completion; infinite for an operation that never completed."""
        return float("inf") if self.completed is None else self.completed - self.invoked


def outcome_of(status, error=""):
    """OK, FAILED or UNKNOWN for an HTTP answer (`status` 0: none, `error` says why). Refusals
    that come before any effect fail: a 4xx (but 408: a proxy's timeout may come after the
    request went on), a connection refused. A 5xx, a timeout or a reset may have taken effect."""
    if 200 <= status < 300:
        return OK
    if 400 <= status < 500 and status != 408:
        return FAILED
    if status == 0 and error.startswith("ConnectionRefusedError"):
        return FAILED
    return UNKNOWN


class History:
    """Operations of one run, appended from many threads. `run` is the run's marker prefix (every
    create's marker starts with it); `started` the time.monotonic() of the run's start, and
    `started_wall` its time.time(), to set the history beside logs and fault records."""

    def __init__(self, run, started=None, started_wall=None):
        self.run = run
        self.started = time.monotonic() if started is None else started
        self.started_wall = time.time() if started_wall is None else started_wall
        self._operations = []
        self._lock = threading.Lock()

    def clock(self):
        """Now, in seconds since the run's start."""
        return self.since_start(time.monotonic())

    def since_start(self, monotonic):
        """A time.monotonic() reading (a fault's start, say) in the history's time."""
        return monotonic - self.started

    def invoke(self, client, kind, **fields):
        """Append an operation going out now; `complete` it when its answer comes."""
        operation = Operation(client, kind, self.clock(), **fields)
        with self._lock:
            self._operations.append(operation)
        return operation

    def complete(self, operation, status, error="", **fields):
        """Set the operation's answer (`fields`: e.g. the record a create made)."""
        completed = self.clock()
        with self._lock:
            operation.completed = completed
            operation.status, operation.error = status, error
            operation.outcome = outcome_of(status, error)
            for name, value in fields.items():
                setattr(operation, name, value)

    def append(self, operation):
        with self._lock:
            self._operations.append(operation)

    @property
    def operations(self):
        """A copy of the operations so far, in invocation order."""
        with self._lock:
            return sorted((dataclasses.replace(o) for o in self._operations), key=lambda o: o.invoked)

    def save(self, path):
        """JSON lines: the run first, then one operation per line."""
        with open(path, "w", encoding="utf-8") as out:
            out.write(json.dumps({"run": self.run, "started_wall": self.started_wall}) + "\n")
            for operation in self.operations:
                out.write(json.dumps(dataclasses.asdict(operation)) + "\n")

    @classmethod
    def load(cls, path):
        with open(path, encoding="utf-8") as lines:
            head = json.loads(next(lines))
            history = cls(head["run"], started=0.0, started_wall=head["started_wall"])
            for line in lines:
                history.append(Operation(**json.loads(line)))
        return history
