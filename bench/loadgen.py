"""The built-in load generator, for machines without wrk: HTTP/1.1 keep-alive over raw asyncio
streams (uvloop when installed), N connections each sending its next request as soon as the last
reply is in (closed loop, like wrk), for a fixed duration or a fixed number of requests.

With a `rate` (requests per second, all connections together) the loop is open, as wrk2's: each
connection sends on a fixed schedule (one request every `connections / rate` seconds, the
connections staggered), and a request's latency runs from the time the schedule meant to send it,
not from when the connection was free to. A stalled server thus shows as the queue it would have
built with clients that do not wait for each other (no coordinated omission). A request whose
time has come while its connection still waits for the last reply is sent as soon as it can be,
and counted `late` when that is more than a millisecond behind.

It runs as a process of its own, so its CPU time is measured apart from the stack's:

    python -m bench.loadgen PLAN.json      # prints one JSON line with the result

PLAN: {"url", "requests": [{"method", "path", "body"}], "connections", "duration" | "count", "timeout",
       "rate" (optional: open loop, with a duration)}.
Result: {"requests", "duration_s", "latency_us": {"p50", "p90", "p99", "p999", "max", "mean"},
         "errors": {"non_2xx", "connect", "read", "write", "timeout"}, "statuses": {code: n},
         "rate": asked or None, "late": n}.
"""

import asyncio
import json
import math
import statistics
import sys
import time
import urllib.parse
from collections import Counter

LATE_S = 0.001  # an open loop's request sent later than this after its time is counted late


def encode_requests(url, requests):
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    prefix = parts.path.rstrip("/")
    raw = []
    for r in requests:
        lines = [f"{r['method']} {prefix}{r['path']} HTTP/1.1", f"Host: {host}"]
        body = b""
        if r.get("body") is not None:
            body = r["body"].encode()
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        raw.append(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    return raw


class Pace:
    """One connection's share of an open loop's schedule (a request every `connections / rate`
    seconds, the connections staggered by `1 / rate`); in a closed loop, no schedule at all."""

    def __init__(self, load, number, begin):
        self.load = load
        self.open = load.rate is not None
        if self.open:
            self.first, self.every = begin + number / load.rate, load.connections / load.rate
            self.slots = max(0, math.ceil((float(load.duration) - number / load.rate) / self.every - 1e-9))
            self.taken = 0

    def over(self):
        return self.open and self.taken >= self.slots

    async def wait(self):
        """Until this connection's next slot; the slot's time (None in a closed loop). The slot
        after it is set now: a slow reply delays the sends, never the schedule."""
        if not self.open:
            return None
        slot = self.first + self.taken * self.every  # not a running sum: that drifts
        self.taken += 1
        wait = slot - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        elif wait < -LATE_S:
            self.load.late += 1
        return slot


class Load:
    def __init__(self, plan):
        parts = urllib.parse.urlsplit(plan["url"])
        self.host, self.port = parts.hostname, parts.port or 80
        self.requests = encode_requests(plan["url"], plan["requests"])
        self.connections = int(plan["connections"])
        self.duration = plan.get("duration")
        self.tickets = plan.get("count")  # requests left to send, in count mode
        self.rate = plan.get("rate")  # requests/s of the open loop; None: closed loop
        if self.rate is not None and (self.duration is None or self.rate <= 0):
            raise ValueError("an open loop needs a positive rate and a duration")
        self.late = 0  # open loop: requests sent more than LATE_S after their intended time
        self.lags = []  # open loop: seconds from each request's intended time to its send
        self.timeout = float(plan.get("timeout", 5.0))
        self.latencies = []  # seconds
        self.statuses = Counter()
        self.errors = Counter(non_2xx=0, connect=0, read=0, write=0, timeout=0)
        self.stopping = False
        self.sent_at = {}  # connection number -> when its request in flight was sent
        self.writers = {}
        self.timed_out = set()

    def _take_ticket(self):
        if self.stopping:
            return False
        if self.tickets is None:
            return True
        if self.tickets <= 0:
            return False
        self.tickets -= 1
        return True

    async def connection(self, number, begin):
        reader = writer = None
        requests, n = self.requests, len(self.requests)
        index = (number * max(1, n // self.connections)) % n
        pace = Pace(self, number, begin)
        while self._take_ticket() and not pace.over():
            intended = await pace.wait()
            if writer is None:
                try:
                    reader, writer = await asyncio.open_connection(self.host, self.port)
                except OSError:
                    self.errors["connect"] += 1
                    await asyncio.sleep(0.05)
                    continue
                self.writers[number] = writer
            request = requests[index]
            index = (index + 1) % n
            self.sent_at[number] = sent = time.perf_counter()  # the watchdog's clock: from the actual send
            # From the intended time (a late send's wait is the queue a real client would be in),
            # but not before the actual send: a timer may wake a little early.
            started = sent if intended is None else max(intended, sent)
            if intended is not None:
                self.lags.append(sent - intended)
            try:
                writer.write(request)
            except (OSError, RuntimeError):
                self.errors["write"] += 1
                writer = self._drop(number, writer)
                continue
            try:
                status, keep = await read_response(reader)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
                if number in self.timed_out:
                    self.timed_out.discard(number)
                    self.errors["timeout"] += 1
                else:
                    self.errors["read"] += 1
                writer = self._drop(number, writer)
                continue
            finally:
                self.sent_at.pop(number, None)
            self.latencies.append(time.perf_counter() - started)
            self.statuses[status] += 1
            if not 200 <= status < 300:
                self.errors["non_2xx"] += 1
            if not keep:
                writer = self._drop(number, writer)
        if writer is not None:
            self._drop(number, writer)

    def _drop(self, number, writer):
        self.writers.pop(number, None)
        writer.transport.abort()
        return None

    async def watchdog(self):
        """Abort connections whose reply is overdue: cheaper than a timer per request."""
        while True:
            await asyncio.sleep(min(0.25, self.timeout / 4))
            now = time.perf_counter()
            for number, sent in list(self.sent_at.items()):
                if now - sent > self.timeout and number in self.writers:
                    self.timed_out.add(number)
                    self.writers[number].transport.abort()

    async def run(self):
        loop = asyncio.get_running_loop()
        guard = asyncio.create_task(self.watchdog())
        started = time.perf_counter()
        if self.duration is not None and self.rate is None:  # an open loop ends with its schedule
            loop.call_later(float(self.duration), self._stop)
        await asyncio.gather(*(self.connection(n, started) for n in range(self.connections)))
        elapsed = time.perf_counter() - started
        guard.cancel()
        return self.result(elapsed)

    def _stop(self):
        self.stopping = True

    def result(self, elapsed):
        ordered = sorted(self.latencies)

        def percentile(p):
            if not ordered:
                return None
            rank = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
            return round(ordered[rank] * 1e6, 1)

        return {
            "requests": len(ordered),
            "duration_s": elapsed,
            "latency_us": {
                "p50": percentile(50),
                "p90": percentile(90),
                "p99": percentile(99),
                "p999": percentile(99.9),
                "max": round(ordered[-1] * 1e6, 1) if ordered else None,
                "mean": round(sum(ordered) / len(ordered) * 1e6, 1) if ordered else None,
            },
            "errors": dict(self.errors),
            "statuses": {str(code): count for code, count in sorted(self.statuses.items())},
            "rate": self.rate,
            "late": self.late,
            # the generator's own part of the open loop's latencies: timer slack, and waits for a
            # connection still busy with the last reply
            "send_lag_us": {
                "p50": round(statistics.median(self.lags) * 1e6, 1) if self.lags else None,
                "p99": round(sorted(self.lags)[int(len(self.lags) * 0.99)] * 1e6, 1) if self.lags else None,
            },
        }


async def read_response(reader):
    """(status, keep-alive) of one response, its body read and dropped."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    keep = not (b"\r\nconnection: close" in lower or head.startswith(b"HTTP/1.0"))
    at = lower.find(b"\r\ncontent-length:")
    if at >= 0:
        end = lower.index(b"\r\n", at + 17)
        length = int(lower[at + 17 : end])
        if length:
            await reader.readexactly(length)
    elif b"\r\ntransfer-encoding: chunked" in lower:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)  # the chunk and its CRLF
            if size == 0:
                break
    elif not (100 <= status < 200 or status in (204, 304)):
        await reader.read()  # delimited by the connection closing
        keep = False
    return status, keep


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    with open(argv[0]) as f:
        plan = json.load(f)
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    result = runner(Load(plan).run())
    result["loop"] = "uvloop" if runner is not asyncio.run else "asyncio"
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
