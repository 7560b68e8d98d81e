"""Latency without coordinated omission: open-loop runs at constant rates.

A closed loop (wrk, and the built-in generator by default) sends a connection's next request only
when the last reply is in, so while the server stalls the load stops too, and the stall shows as
one slow request instead of the queue real clients would have built. Here each target, right
after its closed-loop run of a scenario in a round, is loaded again at fixed shares of the
requests/s it just reached (`--open-loop 25,50,75,90`): the built-in generator sends on a
schedule and measures each request from the time it was meant to go (bench/loadgen.py), as wrk2
does. Each share's p50, p99 and p99.9 against the throughput reached give a target's
latency-against-throughput curve (the `open_loop` part of the report, and a chart of its own).
"""

import argparse

from bench import load, measure, summary

DEFAULT_SHARES = "25,50,75,90"


def shares(value):
    """--open-loop: percentages of the closed loop's requests/s, e.g. "25,50,75,90"."""
    try:
        result = tuple(float(item) for item in value.split(",") if item.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"comma-separated percentages, not {value!r}") from None
    if not result or not all(0 < share <= 100 for share in result):
        raise argparse.ArgumentTypeError("percentages above 0 and at most 100")
    return result


def measure_at(target, bench_targets, scenario, requests, settings, run_id, share, closed_rps):
    """One open-loop run at `share` % of `closed_rps`; a run record (bench/measure.py) with an
    "open_loop" part: the share, the rate asked, the closed loop's figure and the late sends."""
    rate = closed_rps * share / 100
    probe = measure.Probe(target, bench_targets)
    probe.start()
    result = load.run(
        "builtin",
        target.url,
        requests,
        settings.connections,
        duration=settings.open_loop_duration,
        rate=rate,
        timeout=settings.timeout,
        run_id=run_id,
    )
    window = probe.stop()
    entry = measure.record(target, scenario, "builtin", settings, result, window)
    entry["open_loop"] = {
        "share_pct": share,
        "rate_asked": round(rate, 1),
        "closed_loop_rps": closed_rps,
        "late": result["late"],
        "send_lag_us": result["send_lag_us"],
    }
    if result["late"] > 0.01 * max(result["requests"], 1):
        entry["flags"].append(
            f"{result['late']} requests went out over 1 ms after their time (their latency counts from it): "
            "the connections could not keep the schedule"
        )
    return entry


def medians(runs):
    """One entry per (target, scenario, share): the rounds' medians (summary.median_run), with the
    median rate asked and the late sends summed."""
    groups = {}
    for run in runs:
        key = (run["target"], run["scenario"], run["open_loop"]["share_pct"])
        groups.setdefault(key, []).append(run)
    out = []
    for group in groups.values():
        entry = summary.median_run(group)
        entry["open_loop"] = {
            "share_pct": group[0]["open_loop"]["share_pct"],
            "rate_asked": summary.median([r["open_loop"]["rate_asked"] for r in group], 1),
            "late": sum(r["open_loop"]["late"] for r in group),
            "send_lag_us": {"p50": summary.median([r["open_loop"]["send_lag_us"]["p50"] for r in group], 1)},
        }
        out.append(entry)
    return out
