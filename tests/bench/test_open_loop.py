"""bench/loadgen.py's open loop, against an HTTP server of the test's own that stalls every
response for a while: a constant rate keeps its schedule, and a stall shows as the queue it
builds, where the closed loop hides it (coordinated omission). Plus the report's open-loop part."""

import asyncio
import time

import pytest

from bench import open_loop, report
from bench.loadgen import Load

pytestmark = pytest.mark.fast

STALL_AT, STALL_FOR = 0.3, 0.3  # seconds after the server starts: every reply waits meanwhile


class StallingServer:
    def __init__(self):
        self.started = None

    async def __aenter__(self):
        self.server = await asyncio.start_server(self.serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        self.started = time.perf_counter()
        return self

    async def __aexit__(self, *exc):
        self.server.close()

    async def serve(self, reader, writer):
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                resume = self.started + STALL_AT + STALL_FOR - time.perf_counter()
                if resume < STALL_FOR:  # inside the stall window
                    await asyncio.sleep(max(0.0, resume))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


def plan(port, **extra):
    return {
        "url": f"http://127.0.0.1:{port}",
        "requests": [{"method": "GET", "path": "/", "body": None}],
        "connections": 4,
        "duration": 1.2,
        "timeout": 5,
        **extra,
    }


async def test_an_open_loop_keeps_its_rate_and_shows_the_stall_as_a_queue():
    async with StallingServer() as server:
        result = await Load(plan(server.port, rate=200)).run()
    assert 230 <= result["requests"] <= 240  # 1.2 s at 200/s: the schedule, not the server, sets it
    assert result["errors"] == {"non_2xx": 0, "connect": 0, "read": 0, "write": 0, "timeout": 0}
    # About 60 of the requests were due during the 0.3 s stall and waited up to its end: more than
    # 1 % of them waited over 0.2 s, counted from when they were meant to go out.
    assert result["latency_us"]["p99"] > 200_000
    assert result["latency_us"]["p999"] >= result["latency_us"]["p99"]
    assert result["late"] > 20  # due while their connection still waited for a stalled reply
    assert result["rate"] == 200


async def test_the_closed_loop_hides_the_same_stall():
    async with StallingServer() as server:
        result = await Load(plan(server.port)).run()
    # Each of the 4 connections waited once, so 4 of thousands of requests saw the stall.
    assert result["requests"] > 1000
    assert result["latency_us"]["p99"] < 50_000
    assert result["latency_us"]["max"] > 200_000


def test_an_open_loop_needs_a_duration_and_a_positive_rate():
    with pytest.raises(ValueError):
        Load({**plan(1, rate=0)})
    with pytest.raises(ValueError):
        Load({**plan(1, rate=10), "duration": None, "count": 10})


def test_the_shares_option_takes_percentages():
    assert open_loop.shares("25,50,75,90") == (25, 50, 75, 90)
    for bad in ("0", "101", "x", ""):
        with pytest.raises(Exception, match="percentages"):
            open_loop.shares(bad)


def entry(target, share, p99, round_number):
    return {
        "target": target,
        "scenario": "get_airport",
        "generator": "builtin",
        "connections": 32,
        "round": round_number,
        "requests": 1000,
        "rps": 100.0 * share,
        "latency_ms": {"p50": 1.0, "p90": 2.0, "p99": p99, "p999": p99 * 2, "max": p99 * 3, "mean": 1.0},
        "errors": {"non_2xx": 0, "socket": {"connect": 0, "read": 0, "write": 0, "timeout": 0}, "total": 0},
        "cpu_us_per_request": {k: 100.0 for k in ("gateway", "workers", "rabbitmq", "redis", "stack_total")},
        "loadgen": {"cores": 0.1, "threads": 1, "saturated": False},
        "flags": [],
        "open_loop": {"share_pct": share, "rate_asked": 100.0 * share, "late": 1, "send_lag_us": {"p50": 50.0}},
    }


def test_medians_per_target_and_share_and_the_report_table():
    runs = [
        entry("asgi", share, p99, n)
        for n, p99s in ((1, (2, 9)), (2, (4, 5)), (3, (3, 7)))
        for share, p99 in zip((25, 90), p99s, strict=True)
    ]
    medians = open_loop.medians(runs)
    assert [
        (m["target"], m["open_loop"]["share_pct"], m["latency_ms"]["p99"], m["open_loop"]["late"]) for m in medians
    ] == [
        ("asgi", 25, 3, 3),
        ("asgi", 90, 7, 3),
    ]
    text = report.open_loop_table(medians)
    assert "p99.9 ms" in text.splitlines()[0]
    assert text.splitlines()[2].split()[:3] == ["asgi", "get_airport", "25%"]
    meta = {"generator": {"name": "builtin"}, "connections": 32, "duration_s": 1, "warmup_s": 0, "cpus": 2, "rounds": 3}
    full = report.text(
        {
            "meta": meta,
            "runs": [],
            "medians": [],
            "relative_to_reference": {},
            "open_loop": {"runs": runs, "medians": medians},
        }
    )
    assert "open loop (median of 3 rounds)" in full
