"""Latency without coordinated omission: open-loop runs at constant rates.

A closed loop (wrk, and the built-in generator by default) sends a connection's next request only
when the last reply is in, so while the server stalls the load stops too, and the stall shows as
one slow request instead of the queue real clients would have built. Here each target, right
after its closed-loop run of a scenario in a round, is loaded again at fixed shares of the
requests/s it just reached (`--open-loop 25,50,75,90`): the built-in generator sends on a
schedule and measures each request from the time it was meant to go (bench/loadgen.py), as wrk2
does. Each share's p50, p99 and p99.9 against the throughput reached give a target's
latency-against-throughput curve (the `open_loop` part of the report, and a chart of its own).

`--open-loop-rates 250,500` loads every scenario at the same requests/s as well: CPU per request
falls as the rate rises (more requests share each wake-up, read and write), so a write is compared
with a GET at the same rate (`equal_rate`), not at each one's own maximum.
"""

import argparse
import math

from bench import goals, load, measure, summary

DEFAULT_SHARES = "25,50,75,90"


def rates(value):
    """--open-loop-rates: requests/s, e.g. "250,500"."""
    try:
        result = tuple(float(item) for item in value.split(",") if item.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"comma-separated requests/s, not {value!r}") from None
    if not result or not all(0 < rate < math.inf for rate in result):
        raise argparse.ArgumentTypeError("requests/s above 0")
    return tuple(dict.fromkeys(result))  # a rate asked twice would pair two runs with one GET


def shares(value):
    """--open-loop: percentages of the closed loop's requests/s, e.g. "25,50,75,90"."""
    try:
        result = tuple(float(item) for item in value.split(",") if item.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"comma-separated percentages, not {value!r}") from None
    if not result or not all(0 < share <= 100 for share in result):
        raise argparse.ArgumentTypeError("percentages above 0 and at most 100")
    return result


def loads(settings, closed_rps):
    """The open-loop runs asked after a closed-loop run that reached `closed_rps`: (share %, rate,
    fixed), the shares first, then the fixed rates (their share of that run, for the record)."""
    by_share = [(share, closed_rps * share / 100, False) for share in settings.open_loop_shares]
    fixed = [(round(100 * rate / closed_rps, 1), rate, True) for rate in settings.open_loop_rates]
    return by_share + fixed


def label(share, rate, fixed):
    return f"at {rate:g}/s" if fixed else f"at {share:g} %"


def measure_at(target, bench_targets, scenario, requests, settings, run_id, load_asked, closed_rps):
    """One open-loop run at `load_asked` (one of `loads`); a run record (bench/measure.py) with an
    "open_loop" part: the share, the rate asked (`fixed` when it was asked as a rate), the closed
    loop's figure and the late sends."""
    share, rate, fixed = load_asked
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
        "fixed": fixed,
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


def _load_key(run):
    """What a run was asked for: ("rate", requests/s) or ("share", %)."""
    loop = run["open_loop"]
    return ("rate", loop["rate_asked"]) if loop.get("fixed") else ("share", loop["share_pct"])


def medians(runs):
    """One entry per (target, scenario, share or fixed rate): the rounds' medians
    (summary.median_run), with the median rate asked and the late sends summed."""
    groups = {}
    for run in runs:
        key = (run["target"], run["scenario"], _load_key(run))
        groups.setdefault(key, []).append(run)
    out = []
    for group in groups.values():
        entry = summary.median_run(group)
        entry["open_loop"] = {
            "share_pct": summary.median([r["open_loop"]["share_pct"] for r in group], 1),
            "fixed": group[0]["open_loop"].get("fixed", False),
            "rate_asked": summary.median([r["open_loop"]["rate_asked"] for r in group], 1),
            "late": sum(r["open_loop"]["late"] for r in group),
            "send_lag_us": {"p50": summary.median([r["open_loop"]["send_lag_us"]["p50"] for r in group], 1)},
        }
        out.append(entry)
    return out


BASE_SCENARIO = "get_airport"
# a run whose completed requests/s fell below this share of its rate compares nothing: it could not
# keep up (or a request timed out, which drags the figure down as much)
REACHED = 0.95


def equal_rate(runs):
    """Each scenario's stack CPU per request over `get_airport`'s, for the same target at the same
    fixed rate in the same round; the rounds' ratios, their median and, for the gateway's trip
    creates, issue 32's verdict, per (target, scenario, rate). A pair where either run fell short
    of its rate counts as unknown (None)."""
    gets = {
        (run["target"], run["open_loop"]["rate_asked"], run.get("round", 1)): run
        for run in runs
        if run["open_loop"].get("fixed") and run["scenario"] == BASE_SCENARIO
    }
    groups = {}
    for run in runs:
        loop = run["open_loop"]
        get = gets.get((run["target"], loop["rate_asked"], run.get("round", 1)))
        if not loop.get("fixed") or run["scenario"] == BASE_SCENARIO or get is None:
            continue
        key = (run["target"], run["scenario"], loop["rate_asked"])
        groups.setdefault(key, []).append(_cpu_ratio(run, get, loop["rate_asked"]))
    entries = [
        {"target": target, "scenario": scenario, "rate": rate, "rounds": ratios, "median": summary.median(ratios)}
        for (target, scenario, rate), ratios in groups.items()
    ]
    for entry in entries:
        entry["goal"] = goals.write_cost_verdict(entry)  # issue 32's, for the gateway's trip creates
    return entries


def _cpu_ratio(run, get, rate):
    if min(run["rps"], get["rps"]) < REACHED * rate:
        return None
    this, base = run["cpu_us_per_request"]["stack_total"], get["cpu_us_per_request"]["stack_total"]
    return round(this / base, 3) if this and base else None
