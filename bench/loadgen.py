"""The built-in load generator, for machines without wrk: HTTP/1.1 keep-alive over raw asyncio
streams (uvloop when installed), N connections each sending its next request as soon as the last
reply is in (closed loop, like wrk), for a fixed duration or a fixed number of requests.

It runs as a process of its own, so its CPU time is measured apart from the stack's:

    python -m bench.loadgen PLAN.json      # prints one JSON line with the result

PLAN: {"url", "requests": [{"method", "path", "body"}], "connections", "duration" | "count", "timeout"}.
Result: {"requests", "duration_s", "latency_us": {"p50", "p90", "p99", "max", "mean"},
         "errors": {"non_2xx", "connect", "read", "write", "timeout"}, "statuses": {code: n}}.
"""

import asyncio
import json
import sys
import time
import urllib.parse
from collections import Counter


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


class Load:
    def __init__(self, plan):
        parts = urllib.parse.urlsplit(plan["url"])
        self.host, self.port = parts.hostname, parts.port or 80
        self.requests = encode_requests(plan["url"], plan["requests"])
        self.connections = int(plan["connections"])
        self.duration = plan.get("duration")
        self.tickets = plan.get("count")  # requests left to send, in count mode
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

    async def connection(self, number):
        reader = writer = None
        requests, n = self.requests, len(self.requests)
        index = (number * max(1, n // self.connections)) % n
        while self._take_ticket():
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
            started = time.perf_counter()
            self.sent_at[number] = started
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
        if self.duration is not None:
            loop.call_later(float(self.duration), self._stop)
        await asyncio.gather(*(self.connection(n) for n in range(self.connections)))
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
                "max": round(ordered[-1] * 1e6, 1) if ordered else None,
                "mean": round(sum(ordered) / len(ordered) * 1e6, 1) if ordered else None,
            },
            "errors": dict(self.errors),
            "statuses": {str(code): count for code, count in sorted(self.statuses.items())},
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
