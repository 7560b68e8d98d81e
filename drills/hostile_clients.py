"""The hostile-client drill: what a client can do to a gateway with no token at all, all at once
against one gateway, while other clients are served (issue 29).

Forged log lines, oversized and unfinished heads, too many headers, a long URL, malformed and
untyped bodies, made-up methods and paths (metric labels), slow clients (a byte a second), and the
rate limit when it is on. Passes when each gets its clean answer, the gateway stays up, its memory
comes back within 10 % of where it started, and the others were served meanwhile (p99 under
100 ms during the slow clients). Loopback or the given URL only; every phase bounded in time.
"""

import json
import re
import socket
import statistics
import threading
import time
import urllib.parse
import uuid

from devstack.http import Client
from drills.report import Report

FORGED = "/airports/zz%0a2026-12-07%2000:00:00,000%20INFO%20gateway.access%20[forged]%20%1b[31mFORGED"
SECRET_TOKEN = "hostile-drill-secret-token"


def hostile_clients(url, *, metrics_url=None, log_path=None, slow_connections=50, slow_seconds=15.0, token=None):
    """Every attack against the gateway at `url` (its /metrics at `metrics_url`, default `url`); with
    `log_path`, its log is read back afterwards for forged lines and secrets."""
    report = Report("hostile-clients")
    client = Client(url, token, timeout=30)
    metrics = Client(metrics_url or url, timeout=30)
    for _ in range(200):  # warm up, so that the memory baseline is the served state's
        client.get("/health/live")
    before = resident_memory(metrics)
    with Probe(url) as probe:
        forge_log_lines(report, client)
        oversized_heads(report, url, metrics)
        header_limits(report, url)
        bodies(report, url, client)
        metric_labels(report, client, metrics)
        cors(report, client)
        rate_limit(report, Client(url, timeout=30))
    report.stats["others, during the attacks"] = probe.summary()
    report.check(not probe.failures, f"other clients failed during the attacks: {probe.failures[:3]}")
    with Probe(url) as probe:
        slow_clients(report, url, slow_connections, slow_seconds)
    report.stats[f"others, during {slow_connections} slow clients"] = probe.summary()
    report.check(not probe.failures, f"other clients failed among slow clients: {probe.failures[:3]}")
    report.check(probe.p99() < 0.1, f"others' p99 among slow clients is {probe.p99() * 1000:.0f} ms (over 100 ms)")
    live = client.get("/health/live")
    report.check(live.status == 200, f"the gateway is not up after the drill: {live.describe()}")
    settle_memory(report, metrics, before)
    if log_path:
        check_log(report, log_path)
    return report


class Probe:
    """Another client, served meanwhile: GET /health/live every 20 ms on a keep-alive connection."""

    def __init__(self, url):
        self.client, self.times, self.failures = Client(url, timeout=10), [], []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.wait(0.02):
            outcome = self.client.get("/health/live")
            self.times.append(outcome.elapsed)
            if outcome.status != 200:
                self.failures.append(outcome.describe())

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(15)

    def p99(self):
        return statistics.quantiles(self.times, n=100)[98] if len(self.times) > 1 else 0.0

    def summary(self):
        if len(self.times) < 2:
            return "no probes"
        median, slowest = statistics.median(self.times), max(self.times)
        p99 = self.p99()
        return (
            f"{len(self.times)} probes, p50 {median * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms, max {slowest * 1e3:.0f} ms"
        )


def forge_log_lines(report, client):
    """The issue's requests: a path that would start a log line of its own, a NUL, a token in the query."""
    for path in (FORGED, "/airports/%00", f"/airports?access_token={SECRET_TOKEN}", f"/airports?key={SECRET_TOKEN}"):
        outcome = client.get(path)
        report.check(400 <= outcome.status < 500 or outcome.ok, f"forged path: {outcome.describe()}")


def check_log(report, log_path):
    """No line of the log was forged, carries a NUL or an escape, or shows the secret token."""
    data = open(log_path, "rb").read()
    report.check(b"\x00" not in data, "the log has a NUL byte")
    report.check(b"\x1b" not in data, "the log has a raw escape character")
    report.check(SECRET_TOKEN.encode() not in data, "the log shows a token sent in the query")
    lines = data.decode(errors="replace").splitlines()
    forged = [line for line in lines if "FORGED" in line and "/airports/zz" not in line]
    report.check(not forged, f"forged log lines: {forged[:2]}")
    unparsable = [line for line in lines if line.startswith("{") and not _is_json(line)]
    report.check(not unparsable, f"JSON log lines that do not parse: {unparsable[:2]}")
    report.stats["log lines read back"] = len(lines)


def _is_json(line):
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def oversized_heads(report, url, metrics, connections=10, size=20_000_000):
    """One 50 MB header; then `connections` clients each sending `size` bytes of a head they never
    finish. Each must be refused (431) or dropped, and the gateway's memory must stay bounded."""
    status, elapsed = exchange(
        url, b"GET /health/live HTTP/1.1\r\nHost: drill\r\nX-Big: " + b"a" * 50_000_000 + b"\r\n\r\n"
    )
    report.check(status in (0, 431), f"a 50 MB header: {status or 'no answer'} after {elapsed:.2f}s (431 expected)")
    report.stats["a 50 MB header"] = f"{status or 'closed'} in {elapsed:.2f}s"
    baseline, peak = resident_memory(metrics), [0]
    done = threading.Event()

    def sample():
        while not done.wait(0.1):
            peak[0] = max(peak[0], resident_memory(metrics))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    statuses = []
    threads = [
        threading.Thread(
            target=lambda: statuses.append(exchange(url, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * size)[0])
        )
        for _ in range(connections)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    done.set()
    sampler.join(5)
    growth = max(peak[0] - baseline, 0)
    report.stats[f"{connections} x {size // 1_000_000} MB unfinished heads"] = (
        f"statuses {sorted(set(statuses))}, memory {baseline / 2**20:.0f} MiB, peak +{growth / 2**20:.1f} MiB"
    )
    report.check(set(statuses) <= {0, 431}, f"unfinished heads answered {sorted(set(statuses))}")
    report.check(growth < 64 * 2**20, f"memory grew by {growth / 2**20:.0f} MiB under unfinished heads")


def header_limits(report, url):
    cases = [
        ("150 header fields", b"".join(b"X-H%d: v\r\n" % n for n in range(150)), b"/health/live", (431,)),
        ("a 10 KB header field", b"X-Big: " + b"a" * 10_240 + b"\r\n", b"/health/live", (431,)),
        ("a 9 KB URL", b"", b"/airports?cursor=" + b"A" * 9_000, (414,)),
        ("HTTP/1.0 with chunked", b"Transfer-Encoding: chunked\r\n", b"/health/live", (400,)),
    ]
    for description, headers, target, expected in cases:
        version = b"HTTP/1.0" if b"chunked" in headers else b"HTTP/1.1"
        body = b"0\r\n\r\n" if b"chunked" in headers else b""
        status, _ = exchange(url, b"GET " + target + b" " + version + b"\r\nHost: x\r\n" + headers + b"\r\n" + body)
        report.check(status in expected, f"{description}: {status or 'no answer'} ({expected[0]} expected)")


def bodies(report, url, client):
    """A malformed chunked body: 400; a POST with no Content-Type: 415 (the article's routes excepted)."""
    chunked = b"POST /airports HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
    status, _ = exchange(url, chunked + b"\r\nzz\r\n{}\r\n0\r\n\r\n")
    report.check(status == 400, f"a malformed chunked body: {status or 'no answer'} (400 expected)")
    untyped = client.request("POST", "/airports", body=b'{"name": "untyped"}')  # http.client adds no type
    report.check(untyped.status in (401, 415), f"a POST without Content-Type: {untyped.describe()}")


def metric_labels(report, client, metrics, requests=2000):
    """Made-up methods and paths must not grow /metrics by more than a few series."""
    before = series(metrics)
    run = uuid.uuid4().hex[:6]
    for n in range(requests):
        if n % 2:
            client.request(f"M{run}{n}", "/airports")
        else:
            client.get(f"/made-up-{run}-{n}")
    grown = series(metrics) - before
    report.stats[f"/metrics series after {requests} made-up requests"] = f"+{grown}"
    report.check(grown <= 20, f"{requests} made-up methods and paths grew /metrics by {grown} series")


def series(metrics):
    body = metrics.get("/metrics").body.decode()
    return sum(1 for line in body.splitlines() if line and not line.startswith("#"))


def cors(report, client):
    """Where CORS answers (Access-Control-Allow-Origin), the response says it varies with Origin."""
    outcome = client.get("/airports?limit=1", headers={"Origin": "https://drill.example"})
    if "access-control-allow-origin" in outcome.headers:
        vary = outcome.headers.get("vary", "")
        report.check("origin" in vary.lower(), f"a CORS answer without Vary: Origin ({outcome.headers})")


def rate_limit(report, client):
    """When the gateway limits (its answers carry RateLimit-Policy): 429 problems past the quota."""
    first = client.get("/airports?limit=1")
    policy = first.headers.get("ratelimit-policy")
    if not policy:
        report.stats["rate limit"] = "off"
        return
    quota = int(re.search(r";q=(\d+)", policy).group(1))
    for _ in range(quota + 5):
        outcome = client.get("/airports?limit=1")
        if outcome.status == 429:
            break
    report.check(outcome.status == 429, f"no 429 after {quota + 5} requests over a quota of {quota}")
    headers = outcome.headers
    report.check(
        headers.get("content-type") == "application/problem+json"
        and "retry-after" in headers
        and "ratelimit" in headers,
        f"the 429 lacks its problem document or headers: {headers}",
    )
    report.stats["rate limit"] = (
        f"{policy}: 429 with {headers.get('ratelimit')}, Retry-After {headers.get('retry-after')}"
    )


def slow_clients(report, url, connections, seconds):
    """`connections` clients sending a request's head a byte a second, each reconnecting when dropped."""
    stop, dropped = threading.Event(), []

    def trickle():
        while not stop.is_set():
            dropped.append(trickle_once(url, stop))

    threads = [threading.Thread(target=trickle, daemon=True) for _ in range(connections)]
    for thread in threads:
        thread.start()
    stop.wait(seconds)
    stop.set()
    for thread in threads:
        thread.join(5)
    report.stats["slow connections dropped by the gateway"] = sum(dropped)


def trickle_once(url, stop, interval=1.0):
    """A slow client: a request's head, a byte every `interval` seconds, on a connection of its own
    until `stop`. True if the gateway dropped the connection, False if the drill ended first."""
    parts = urllib.parse.urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or 80), timeout=5) as sock:
            for byte in b"GET /health/live HTTP/1.1\r\nHost: drill\r\nX-Slow: " + b"z" * 10_000:
                if stop.wait(interval):
                    return False
                sock.send(bytes((byte,)))
    except OSError:
        stop.wait(0.2)
        return True
    return False


def exchange(url, data, timeout=30):
    """Send `data` on a connection of its own; (status, seconds): 0 if no answer came (reset first)."""
    parts = urllib.parse.urlsplit(url)
    started = time.perf_counter()
    answer = b""
    try:
        with socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout) as sock:
            try:
                sock.sendall(data)
            except OSError:
                pass  # refused mid-send: the answer may still be there to read
            while b"\r\n" not in answer:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                answer += chunk
    except OSError:
        pass
    match = re.match(rb"HTTP/1\.[01] (\d{3})", answer)
    return (int(match.group(1)) if match else 0), time.perf_counter() - started


def resident_memory(metrics):
    for line in metrics.get("/metrics").body.decode().splitlines():
        if line.startswith("process_resident_memory_bytes "):
            return float(line.split()[1])
    return 0.0


def settle_memory(report, metrics, before, within=0.10, wait=10.0):
    """The gateway's memory back within `within` of `before`, in `wait` seconds."""
    deadline = time.monotonic() + wait
    while True:
        now = resident_memory(metrics)
        if now <= before * (1 + within) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    report.stats["memory before, after"] = f"{before / 2**20:.1f} MiB, {now / 2**20:.1f} MiB"
    report.check(
        now <= before * (1 + within), f"memory {now / 2**20:.1f} MiB, over 10 % above {before / 2**20:.1f} MiB"
    )
