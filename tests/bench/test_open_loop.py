"""bench/loadgen.py's open loop, against an HTTP server of the test's own that stalls every
response for a while: a constant rate keeps its schedule, and a stall shows as the queue it
builds, where the closed loop hides it (coordinated omission). Plus the report's open-loop part."""

import argparse
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


def test_the_rates_option_takes_requests_per_second():
    assert open_loop.rates("250,500") == (250, 500)
    assert open_loop.rates("300,300") == (300,)  # twice would pair two runs with one GET
    for bad in ("0", "-5", "x", "", "inf"):
        with pytest.raises(Exception, match="requests/s"):
            open_loop.rates(bad)


def test_fixed_rates_follow_the_shares_and_keep_their_share_of_the_closed_loop():
    settings = argparse.Namespace(open_loop_shares=(50,), open_loop_rates=(250, 500))
    assert open_loop.loads(settings, 1000.0) == [(50, 500.0, False), (25.0, 250, True), (50.0, 500, True)]
    assert open_loop.label(50, 500.0, False) == "at 50 %"
    assert open_loop.label(25.0, 250, True) == "at 250/s"


def fixed(scenario, rate, rps, stack_us, round_number, target="asgi"):
    run = entry(target, 50, 5.0, round_number)
    run.update(scenario=scenario, rps=rps)
    run["cpu_us_per_request"] = {**run["cpu_us_per_request"], "stack_total": stack_us}
    run["open_loop"] = {**run["open_loop"], "fixed": True, "rate_asked": rate, "share_pct": round(100 * rate / 600, 1)}
    return run


def test_a_write_is_compared_with_a_get_at_the_same_rate_in_the_same_round():
    runs = [
        fixed("get_airport", 500, 500, 1000.0, 1),
        fixed("create_trip", 500, 499, 2500.0, 1),
        fixed("get_airport", 500, 500, 1200.0, 2),
        fixed("create_trip", 500, 430, 2000.0, 2),  # fell short of the rate: compares nothing
        fixed("get_airport", 250, 250, 2000.0, 1),
        fixed("create_trip", 250, 250, 7000.0, 1),
        fixed("create_trip", 500, 500, 9000.0, 1, target="wsgi"),  # no GET of its own at that rate
    ]
    runs.append(entry("asgi", 25, 3.0, 1))  # a share, not a rate: not compared
    found = {(e["target"], e["scenario"], e["rate"]): e for e in open_loop.equal_rate(runs)}
    assert set(found) == {("asgi", "create_trip", 500), ("asgi", "create_trip", 250)}
    assert found[("asgi", "create_trip", 500)]["rounds"] == [2.5, None]
    assert found[("asgi", "create_trip", 500)]["median"] == 2.5
    assert found[("asgi", "create_trip", 250)]["median"] == 3.5

    lines = report.equal_rate_lines(sorted(found.values(), key=lambda e: e["rate"]))
    assert "3.50x" in lines[1] and "goal <= 3.00x: MISSED" in lines[1]
    assert "2.50x" in lines[2] and "(rounds: 2.50x -)" in lines[2] and "goal <= 3.00x: met" in lines[2]


def test_a_get_short_of_its_rate_leaves_the_goal_without_a_verdict():
    runs = [fixed("get_airport", 500, 400, 1000.0, 1), fixed("create_trip", 500, 500, 2500.0, 1)]
    (found,) = open_loop.equal_rate(runs)
    assert found["rounds"] == [None] and found["median"] is None
    assert found["goal"] == "goal <= 3.00x: no verdict (short of the rate)"
    assert "no verdict" in report.equal_rate_lines([found])[1]


def test_medians_keep_a_fixed_rate_apart_from_a_share_and_the_table_says_which():
    runs = [fixed("get_airport", 300, 300, 900.0, n) for n in (1, 2)] + [entry("asgi", 50, 4.0, n) for n in (1, 2)]
    for run, share in zip(runs[:2], (50.0, 60.0), strict=True):  # the same rate, a different share of each closed loop
        run["open_loop"]["share_pct"] = share
    medians = open_loop.medians(runs)
    assert [(m["open_loop"]["fixed"], m["open_loop"]["rate_asked"]) for m in medians] == [(True, 300), (False, 5000)]
    assert medians[0]["open_loop"]["share_pct"] == 55.0
    rows = report.open_loop_table(medians).splitlines()[2:]
    assert rows[0].split()[2] == "(55%)" and rows[1].split()[2] == "50%"
