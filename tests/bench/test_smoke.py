"""CI smoke test of the benchmark harness: `python -m bench --smoke --rounds 2` runs every target
(asgi, wsgi, baseline, and the peers article, flask and fastapi) with every scenario it serves
(the article's gateway on its own routes), and the reference with get_airport (all it serves), for
half a second, twice (the memory scenario once), and writes its report; each closed-loop run is
followed by an open-loop one at half its rate. It checks that the run completes, that the report
has every field for every target and scenario, the medians and the verdicts on the issues' goals,
that the chart is a PNG, and that the harness removed what it started. Never timings: CI machines
vary too much.
"""

import json
import os
import signal
import statistics
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from bench.cli import cleanup
from tests.support.servers import AMQP_BASE, REDIS_URI

ROOT = Path(__file__).resolve().parents[2]
GATEWAYS = ["asgi", "wsgi", "baseline", "article", "flask", "fastapi"]  # bench.targets.KINDS, in its order
TARGETS = [*GATEWAYS, "reference"]
SCENARIOS = ["get_airport", "create_airport", "create_trip", "mix", "memory"]
# the list scenarios (GET /airports, /trips?airport=) run on the targets with list routes only
LIST_SCENARIOS = ["list_airports", "list_airports_deep", "list_trips_by_airport", "list_trips_by_airport_deep"]
LISTING = ["asgi", "wsgi", "baseline"]  # bench.scenarios.LISTS
# the change scenario (PATCH /airports/<id>) runs on the gateway's two apps only
CHANGING = ["asgi", "wsgi"]  # bench.scenarios.CHANGES
EXPECTED_RUNS = (
    {(t, s) for t in GATEWAYS for s in SCENARIOS}
    | {(t, s) for t in LISTING for s in LIST_SCENARIOS}
    | {(t, "update_airport") for t in CHANGING}
    | {("reference", "get_airport")}
)
GROUPS = ["gateway", "workers", "rabbitmq", "redis"]
RUN_TIMEOUT = 240  # seconds; the run takes about 60 on two cores, over 120 when they are busy
# pytest-timeout's limit (setup.cfg: 120 s) covers the fixture's run too: room for it and the clean-up
pytestmark = [pytest.mark.long, pytest.mark.timeout(RUN_TIMEOUT + 60)]
ROUNDS = 2


@pytest.fixture
def smoke_run(tmp_path):
    """Run the smoke benchmark; (exit code, output, out dir, run id). Whatever happens, nothing
    it started is left behind: its processes, its vhost, its Redis keys."""
    run_id = "smoke-" + uuid.uuid4().hex[:8]
    argv = [
        sys.executable,
        "-m",
        "bench",
        "--smoke",
        "--rounds",
        str(ROUNDS),
        "--open-loop",
        "50",
        "--open-loop-duration",
        "0.2",
        "--out",
        str(tmp_path),
        "--run-id",
        run_id,
        "--amqp-base",
        AMQP_BASE,
        "--redis-uri",
        REDIS_URI,
    ]
    process = subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        try:
            output, _ = process.communicate(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGTERM)  # the harness cleans up on SIGTERM
            output, _ = process.communicate(timeout=20)
            pytest.fail(f"python -m bench --smoke took more than {RUN_TIMEOUT}s:\n{output[-5000:]}")
        yield process.returncode, output, tmp_path, run_id
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        cleanup(run_id, REDIS_URI)  # what `python -m bench --cleanup` does after a killed run


def test_smoke_run_reports_every_target_and_scenario(smoke_run, assert_nothing_left):
    status, output, out_dir, run_id = smoke_run
    assert status == 0, output[-5000:]

    # it cleaned up after itself
    assert_nothing_left(run_id)

    [report_path] = out_dir.glob("bench-*.json")
    report = json.loads(report_path.read_text())
    assert report["failures"] == []
    meta = report["meta"]
    assert meta["smoke"] is True
    assert meta["generator"]["name"] in ("wrk", "builtin")
    assert meta["connections"] == 32
    assert set(meta["stack"]["targets"]) == set(TARGETS)

    assert meta["rounds"] == ROUNDS
    rounds = sorted((run["round"], run["target"], run["scenario"]) for run in report["runs"])
    assert rounds == sorted(
        [(1, t, s) for t, s in EXPECTED_RUNS] + [(2, t, s) for t, s in EXPECTED_RUNS if s != "memory"]
    )
    # the second round runs the targets in reverse order
    order = [(run["round"], run["target"]) for run in report["runs"] if run["scenario"] == "get_airport"]
    assert order == [(1, t) for t in TARGETS] + [(2, t) for t in reversed(TARGETS)]
    runs = {(run["target"], run["scenario"]): run for run in report["runs"] if run["round"] == 1}
    assert set(runs) == EXPECTED_RUNS
    medians = {(m["target"], m["scenario"]): m for m in report["medians"]}
    assert set(medians) == EXPECTED_RUNS - {(t, "memory") for t in GATEWAYS}
    assert all(m["rounds"] == ROUNDS for m in medians.values())
    checks = [v["check"] for v in report["goals"]]
    assert checks == [
        "requests/s, multiple of the baseline's",
        "p99 latency, fraction of the baseline's",
        "gateway CPU per request, multiple of the reference's",
        "stack CPU per request, fraction of the baseline's",
        "requests/s, multiple of the best peer's (baseline, article, flask, fastapi)",
        "p99 latency, fraction of the best peer's",
        "workers CPU per request, multiple of the reference's",
        "stack CPU per request, multiple of the reference's",
        "gateway memory growth between the two checkpoints",
    ]
    assert all(
        isinstance(v["met"], bool) and len(v["rounds"]) == (1 if "memory" in v["check"] else ROUNDS)
        for v in report["goals"]
    )
    assert "goals (benchmark issues" in output and "median of 2 rounds" in output
    # the reference: its one scenario read the seeded airports (404s would be errors), the rest skipped
    assert runs["reference", "get_airport"]["errors"]["total"] == 0
    # the article's gateway was sent its own routes (any other path would be answered 404 or 500)
    assert [runs["article", s]["errors"]["non_2xx"] for s in SCENARIOS[:-1]] == [0] * (len(SCENARIOS) - 1)
    assert {(s["target"], s["scenario"]) for s in meta["skipped"]} == {
        (t, s) for t in TARGETS for s in [*SCENARIOS[1:], *LIST_SCENARIOS, "update_airport"]
    } - EXPECTED_RUNS
    relative = report["relative_to_reference"]
    assert list(relative) == ["get_airport"]
    reference_us = [run["cpu_us_per_request"]["gateway"] for run in report["runs"] if run["target"] == "reference"]
    assert len(reference_us) == ROUNDS
    assert relative["get_airport"]["reference_gateway_us"] == round(statistics.median(reference_us), 3)
    assert set(relative["get_airport"]["ratios"]) == set(GATEWAYS)
    assert "gateway CPU relative to the reference" in output
    for (target, scenario), run in runs.items():
        where = f"{target}/{scenario}"
        assert run["generator"] in ("wrk", "builtin"), where
        assert run["requests"] > 0, where
        assert run["rps"] > 0, where
        assert set(run["latency_ms"]) >= {"p50", "p90", "p99"}, where
        assert all(isinstance(run["latency_ms"][p], (int, float)) for p in ("p50", "p90", "p99")), where
        assert set(run["errors"]) == {"non_2xx", "socket", "total"}, where
        assert set(run["errors"]["socket"]) == {"connect", "read", "write", "timeout"}, where
        cpu = run["cpu_us_per_request"]
        assert set(cpu) == {*GROUPS, "stack_total"}, where
        assert all(isinstance(cpu[g], (int, float)) for g in ("gateway", "workers", "stack_total")), where
        assert run["processes"]["gateway"] and run["processes"]["workers"], where
        assert {"cores", "threads", "saturated"} <= set(run["loadgen"]), where
        assert isinstance(run["flags"], list), where
        if scenario == "memory":
            memory = run["memory"]
            first, total = memory["checkpoints"]
            assert set(memory["rss_kib"]) == {"after_warmup", f"after_{first}", f"after_{total}"}, where
            assert all(v > 0 for v in memory["rss_kib"].values()), where
            assert isinstance(memory["growth_pct"], (int, float)) and isinstance(memory["flat"], bool), where

    # every closed-loop run had its open-loop run at 50 %, in the same round, with p99.9 measured
    load_runs = {(r["round"], r["target"], r["scenario"]) for r in report["runs"] if r["scenario"] != "memory"}
    open_runs = report["open_loop"]["runs"]
    assert {(r["round"], r["target"], r["scenario"]) for r in open_runs} == load_runs
    assert all(r["open_loop"]["share_pct"] == 50 and r["open_loop"]["rate_asked"] > 0 for r in open_runs)
    assert all(r["requests"] > 0 and isinstance(r["latency_ms"]["p999"], (int, float)) for r in open_runs)
    assert len(report["open_loop"]["medians"]) == len(report["medians"])
    assert "open loop (median of 2 rounds)" in output

    charts = list(out_dir.glob("bench-*.png"))  # the report's chart, and latency against throughput
    assert sorted(p.name.endswith("-latency.png") for p in charts) == [False, True]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in charts)
    assert "req/s" in output  # the table was printed
