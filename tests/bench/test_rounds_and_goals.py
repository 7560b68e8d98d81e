"""bench/summary.py (medians over rounds) and bench/goals.py (the benchmark issue's goals),
on run entries shaped like bench/measure.py's."""

from bench import goals, report, summary


def run(target, rps, p99, gateway_us, stack_us, round_number=1, scenario="get_airport", errors=0):
    return {
        "target": target,
        "scenario": scenario,
        "generator": "wrk",
        "connections": 32,
        "round": round_number,
        "requests": int(rps * 10),
        "rps": rps,
        "latency_ms": {"p50": p99 / 3, "p90": p99 / 2, "p99": p99},
        "errors": {"non_2xx": errors, "socket": {"connect": 0, "read": 0, "write": 0, "timeout": 0}, "total": errors},
        "cpu_us_per_request": {
            "gateway": gateway_us,
            "workers": stack_us - gateway_us,
            "rabbitmq": None,
            "redis": None,
            "stack_total": stack_us,
        },
        "loadgen": {"cores": 0.1, "threads": 1, "saturated": False},
        "flags": [],
    }


def memory_run(target, growth_pct):
    entry = run(target, 900, 30, 300, 1500, scenario="memory")
    entry["memory"] = {"growth_pct": growth_pct}
    return entry


ROUNDS = [
    # round 1: every target met
    run("asgi", 2000, 30, 200, 1000, 1),
    run("baseline", 700, 90, 1100, 2600, 1),
    run("reference", 7000, 6, 150, 170, 1),
    # round 2: throughput 2.4x and p99 0.6x: missed
    run("asgi", 1200, 54, 260, 1600, 2),
    run("baseline", 500, 90, 1200, 3000, 2),
    run("reference", 7000, 6, 140, 160, 2),
    # round 3: met again
    run("asgi", 1800, 40, 240, 1400, 3, errors=2),
    run("baseline", 600, 100, 1150, 2800, 3),
    run("reference", 7000, 6, 160, 180, 3),
]


def verdicts_by_check(runs):
    return {v["check"]: v for v in goals.check(runs)}


def test_every_target_is_checked_round_by_round_and_decided_on_the_median():
    verdicts = verdicts_by_check(ROUNDS + [memory_run("asgi", 3.0), memory_run("wsgi", 40.0)])

    throughput = verdicts["requests/s, multiple of the baseline's"]
    assert throughput["rounds"] == [round(2000 / 700, 3), 2.4, 3.0]
    assert throughput["median"] == round(2000 / 700, 3) and throughput["met"] and throughput["rounds_met"] == 2

    p99 = verdicts["p99 latency, fraction of the baseline's"]
    assert p99["rounds"] == [round(30 / 90, 3), 0.6, 0.4]
    assert p99["median"] == 0.4 and p99["met"] and p99["rounds_met"] == 2

    gateway = verdicts["gateway CPU per request, multiple of the reference's"]
    assert gateway["rounds"] == [round(200 / 150, 3), round(260 / 140, 3), 1.5]
    assert gateway["median"] == 1.5 and gateway["met"]  # the 250/160 = 1.5625

    stack = verdicts["stack CPU per request, fraction of the baseline's"]
    assert stack["rounds"] == [round(1000 / 2600, 3), round(1600 / 3000, 3), 0.5]
    assert stack["median"] == 0.5 and not stack["met"]  # > 1500/3400
    # the absolute figures (250 us, 1.5 ms of its machine) are retired: ratios only
    assert {v["unit"] for v in verdicts.values()} == {"x", "%"}

    memory = verdicts["gateway memory growth between the two checkpoints"]
    assert memory["rounds"] == [3.0] and memory["met"]  # the asgi gateway's, not wsgi's


def test_the_gateway_against_the_best_peer_and_its_cost_against_the_reference():
    runs = [
        run("asgi", 2000, 20, 200, 1000),
        run("baseline", 400, 90, 1100, 2600),
        run("flask", 600, 70, 900, 2400),  # the best peer for requests/s
        run("fastapi", 500, 50, 1000, 2500),  # and for p99
        run("wsgi", 900, 40, 800, 2000),  # ours, not a peer
        run("reference", 7000, 6, 160, 170),
    ]
    verdicts = verdicts_by_check(runs)
    throughput = verdicts["requests/s, multiple of the best peer's (baseline, article, flask, fastapi)"]
    assert throughput["median"] == round(2000 / 600, 3) and not throughput["met"]  # needs 4x
    p99 = verdicts["p99 latency, fraction of the best peer's"]
    assert p99["median"] == 0.4 and not p99["met"]  # needs a third
    workers = verdicts["workers CPU per request, multiple of the reference's"]
    assert workers["median"] == 5.0 and not workers["met"]  # (1000 - 200) / 160
    stack = verdicts["stack CPU per request, multiple of the reference's"]
    assert stack["median"] == 6.25 and not stack["met"]
    # without any peer, nothing to say about them
    alone = verdicts_by_check([r for r in runs if r["target"] in ("asgi", "wsgi")])
    assert not any("peer" in name for name in alone)


def test_the_articles_own_gateway_is_a_peer_too():
    runs = [
        run("asgi", 2000, 20, 200, 1000),
        run("baseline", 400, 90, 1100, 2600),
        run("article", 500, 60, 900, 2400),  # the best peer for both
        run("reference", 7000, 6, 160, 170),
    ]
    verdicts = verdicts_by_check(runs)
    assert verdicts["requests/s, multiple of the best peer's (baseline, article, flask, fastapi)"]["median"] == 4.0
    assert verdicts["p99 latency, fraction of the best peer's"]["median"] == round(20 / 60, 3)
    # the baseline goals of issue 6 stay against the baseline
    assert verdicts["requests/s, multiple of the baseline's"]["median"] == 5.0


def test_a_missed_median_is_missed_and_checks_without_figures_are_left_out():
    slow = [run("asgi", 1000, 60, 400, 2000), run("baseline", 600, 90, 1100, 2600)]
    verdicts = verdicts_by_check(slow)
    assert not verdicts["requests/s, multiple of the baseline's"]["met"]
    assert not verdicts["p99 latency, fraction of the baseline's"]["met"]
    assert not verdicts["stack CPU per request, fraction of the baseline's"]["met"]
    # no reference ran and no memory scenario: nothing to say about those
    assert "gateway CPU per request, multiple of the reference's" not in verdicts
    assert "gateway memory growth between the two checkpoints" not in verdicts
    # no asgi run: no verdict at all
    assert goals.check([run("baseline", 600, 90, 1100, 2600)]) == []


def test_a_round_without_the_gateway_stays_in_place_as_unknown():
    # round 2's asgi run failed: its figures are unknown, not dropped, so round 3 stays round 3
    runs = [r for r in ROUNDS if not (r["round"] == 2 and r["target"] == "asgi")]
    verdict = verdicts_by_check(runs)["requests/s, multiple of the baseline's"]
    assert verdict["rounds"] == [round(2000 / 700, 3), None, 3.0]
    assert verdict["median"] == round((2000 / 700 + 3.0) / 2, 3) and verdict["rounds_met"] == 2
    line = next(line for line in goals.lines([verdict], 32) if "requests/s" in line)
    assert "(rounds: 2.86x - 3.00x; met in 2 of 2)" in line

    medians = summary.medians(runs)
    result = {
        "meta": {
            "generator": {"name": "wrk"},
            "connections": 32,
            "duration_s": 10,
            "warmup_s": 3,
            "cpus": 2,
            "rounds": 3,
        },
        "runs": runs,
        "medians": medians,
        "relative_to_reference": {},
        "goals": [],
    }
    assert "over fewer rounds (a run failed, or the run was interrupted): asgi/get_airport (2)" in report.text(result)


def test_medians_per_target_with_errors_summed():
    medians = {m["target"]: m for m in summary.medians(ROUNDS + [memory_run("asgi", 3.0)])}
    assert set(medians) == {"asgi", "baseline", "reference"}  # the memory run is not a load run
    asgi = medians["asgi"]
    assert asgi["rounds"] == 3 and asgi["scenario"] == "get_airport"
    assert asgi["rps"] == 1800 and asgi["latency_ms"]["p99"] == 40
    assert asgi["cpu_us_per_request"] == {
        "gateway": 240,
        "workers": 1160,
        "rabbitmq": None,
        "redis": None,
        "stack_total": 1400,
    }
    assert asgi["errors"]["total"] == 2 and asgi["requests"] == 50000


def test_rounds_alternate_the_order_of_the_targets():
    assert summary.order(["asgi", "wsgi", "baseline"], 1) == ["asgi", "wsgi", "baseline"]
    assert summary.order(["asgi", "wsgi", "baseline"], 2) == ["baseline", "wsgi", "asgi"]
    assert summary.order(["asgi", "wsgi", "baseline"], 3) == ["asgi", "wsgi", "baseline"]


def test_the_report_text_shows_rounds_medians_and_verdicts():
    medians = summary.medians(ROUNDS)
    result = {
        "meta": {
            "generator": {"name": "wrk", "version": "4"},
            "connections": 32,
            "duration_s": 10,
            "warmup_s": 3,
            "cpus": 2,
            "rounds": 3,
        },
        "runs": ROUNDS,
        "medians": medians,
        "relative_to_reference": report.relative_to_reference(ROUNDS),
        "goals": goals.check(ROUNDS),
    }
    text = report.text(result)
    assert "median of 3 rounds" in text
    # the median of the rounds' own ratios (200/150, 260/140, 240/160), not 240 over the median reference
    assert "gateway CPU relative to the reference" in text and "asgi 1.50x" in text
    verdict = next(line for line in text.splitlines() if "requests/s, multiple of the baseline's" in line)
    assert ">= 2.50x" in verdict and "2.86x" in verdict and "met in 2 of 3" in verdict and "MISSED" not in verdict
    missed = next(line for line in text.splitlines() if "stack CPU per request, fraction of the baseline's" in line)
    assert missed.rstrip().split("(rounds")[0].strip().endswith("MISSED")
    assert " us " not in text.split("goals (")[1]  # no absolute goal left among the verdicts
