"""The report: a text table on stdout and the JSON file (the chart is bench/chart.py)."""

import json
from pathlib import Path

from bench import goals, open_loop, summary
from bench.targets import REFERENCE

COLUMNS = [  # (heading, width, value of a run)
    ("target", 9, lambda r: r["target"]),
    ("scenario", 14, lambda r: r["scenario"]),
    ("gen", 7, lambda r: r["generator"]),
    ("req/s", 8, lambda r: f"{r['rps']:.0f}"),
    ("p50 ms", 7, lambda r: _num(r["latency_ms"]["p50"], 2)),
    ("p90 ms", 7, lambda r: _num(r["latency_ms"]["p90"], 2)),
    ("p99 ms", 7, lambda r: _num(r["latency_ms"]["p99"], 2)),
    ("errors", 6, lambda r: str(r["errors"]["total"])),
    ("gw us", 7, lambda r: _num(r["cpu_us_per_request"]["gateway"], 0)),
    ("svc us", 7, lambda r: _num(r["cpu_us_per_request"]["workers"], 0)),
    ("mq us", 6, lambda r: _num(r["cpu_us_per_request"]["rabbitmq"], 0)),
    ("redis", 6, lambda r: _num(r["cpu_us_per_request"]["redis"], 0)),
    ("total us", 8, lambda r: _num(r["cpu_us_per_request"]["stack_total"], 0)),
    ("lg cores", 8, lambda r: f"{r['loadgen']['cores']:.2f}" + ("!" if r["loadgen"]["saturated"] else "")),
]

LEGEND = (
    "CPU columns: microseconds of CPU per request (user + system time, psutil, over the measured window)\n"
    "of the gateway (gw: all its processes), the workers (svc: the nameko services), RabbitMQ (mq:\n"
    "beam.smp) and Redis, and their sum; RabbitMQ and Redis are the machine's shared services.\n"
    "lg cores: the load generator's CPU ('!': near a full core per thread, it may be the bottleneck)."
)


def _num(value, digits):
    return "-" if value is None else f"{value:.{digits}f}"


ROUND_COLUMN = ("round", 5, lambda r: str(r.get("round", 1)))


def table(runs, rounds=False):
    """Left-aligned names, right-aligned figures; a first column with the round when asked."""
    columns = [ROUND_COLUMN, *COLUMNS] if rounds else COLUMNS
    names = 4 if rounds else 3  # columns holding names, not figures

    def row(cells):
        return "  ".join(c.rjust(w) if i >= names else c.ljust(w) for i, (c, w) in enumerate(cells))

    lines = [row((h, w) for h, w, _ in columns), "  ".join("-" * w for _, w, _ in columns)]
    lines += [row((fmt(run), w) for _, w, fmt in columns) for run in runs]
    return "\n".join(lines)


def memory_table(runs):
    rows = [r for r in runs if r.get("memory")]
    if not rows:
        return ""
    first, total = rows[0]["memory"]["checkpoints"]
    lines = [f"{'target':9}  {'RSS warm KiB':>12}  {f'@{first} KiB':>12}  {f'@{total} KiB':>12}  {'growth':>8}  flat?"]
    for r in rows:
        m = r["memory"]
        rss = m["rss_kib"]
        growth = "-" if m["growth_pct"] is None else f"{m['growth_pct']:+.1f}%"
        flat = "-" if m["flat"] is None else ("yes" if m["flat"] else "NO")
        lines.append(
            f"{r['target']:9}  {_num(rss['after_warmup'], 0):>12}  {_num(rss[f'after_{first}'], 0):>12}  "
            f"{_num(rss[f'after_{total}'], 0):>12}  {growth:>8}  {flat} (limit {m['limit_pct']:g}%)"
        )
    return "\n".join(lines)


def open_loop_table(entries):
    """late: requests sent over 1 ms after their time; lag us: the median time from a request's
    intended send to its send (the generator's timer slack, included in the latencies)."""
    heading = (
        f"{'target':9}  {'scenario':14}  {'share':>8}  {'asked/s':>8}  {'got/s':>8}  {'p50 ms':>7}  "
        f"{'p99 ms':>7}  {'p99.9 ms':>8}  {'errors':>6}  {'late':>6}  {'lag us':>6}  {'total us':>8}"
    )
    lines = [heading, "-" * len(heading)]
    for e in entries:
        lat, loop = e["latency_ms"], e["open_loop"]
        lines.append(
            f"{e['target']:9}  {e['scenario']:14}  {_share(loop):>8}  {loop['rate_asked']:>8.0f}  "
            f"{e['rps']:>8.0f}  {_num(lat['p50'], 2):>7}  {_num(lat['p99'], 2):>7}  {_num(lat.get('p999'), 2):>8}  "
            f"{e['errors']['total']:>6}  {loop['late']:>6}  {_num(loop['send_lag_us']['p50'], 0):>6}  "
            f"{_num(e['cpu_us_per_request']['stack_total'], 0):>8}"
        )
    return "\n".join(lines)


def _share(loop):
    """A share asked for ("25%"), or the share a fixed rate was of the closed loop's ("(83%)")."""
    return f"({loop['share_pct']:g}%)" if loop.get("fixed") else f"{loop['share_pct']:g}%"


def equal_rate_lines(entries):
    """Each write's CPU per request against a GET's at the same rate, with issue 32's verdict on the
    gateway's trip creates (goals.WRITE_COST)."""
    if not entries:
        return []
    out = ["stack CPU per request at the same rate (open loop), multiple of the same target's get_airport's:"]
    for e in entries:
        rounds = " ".join("-" if r is None else f"{r:.2f}x" for r in e["rounds"])
        figure = "-" if e["median"] is None else f"{e['median']:.2f}x"
        line = f"  {e['target']:9} {e['scenario']:22} at {e['rate']:>6g}/s  {figure:>7}"
        if len(e["rounds"]) > 1:
            line += f"  (rounds: {rounds})"
        if e.get("goal"):
            line += f"  {e['goal']}"
        out.append(line)
    out.append("  (-: a run fell short of the rate, so the pair compares nothing)")
    return out


def relative_to_reference(runs):
    """Per scenario the reference ran: each other target's gateway CPU per request over the
    reference's, the figure that carries over to another machine. {scenario: {"reference_gateway_us",
    "ratios": {target: ratio or None}}}; None where a CPU figure is unknown (or rounds to 0).
    With several rounds, each ratio is taken within its round and the median of those reported,
    as for the reference's own figure."""
    per_round = {}  # scenario: {"floors": [us], "ratios": {target: [ratio]}}
    for ref in runs:
        if ref["target"] != REFERENCE or ref.get("memory"):
            continue
        floor = ref["cpu_us_per_request"]["gateway"]
        scenario = per_round.setdefault(ref["scenario"], {"floors": [], "ratios": {}})
        scenario["floors"].append(floor)
        for run in runs:
            if (
                run["scenario"] == ref["scenario"]
                and run.get("round") == ref.get("round")
                and run["target"] != REFERENCE
                and not run.get("memory")
            ):
                us = run["cpu_us_per_request"]["gateway"]
                ratio = us / floor if us is not None and floor else None
                scenario["ratios"].setdefault(run["target"], []).append(ratio)
    return {
        name: {
            "reference_gateway_us": summary.median(s["floors"]),
            "ratios": {t: summary.median(r, digits=2) for t, r in s["ratios"].items()},
        }
        for name, s in per_round.items()
    }


def relative_lines(relative):
    lines = []
    for scenario, rel in relative.items():
        ratios = ", ".join(f"{t} {'n/a' if r is None else f'{r:.2f}x'}" for t, r in rel["ratios"].items())
        lines.append(
            f"{scenario}: gateway CPU relative to the reference (Falcon+uvicorn reading Redis directly, "
            f"{_num(rel['reference_gateway_us'], 0)} us/request): {ratios or 'no other target'}"
        )
    return lines


def text(report):
    runs = report["runs"]
    meta = report["meta"]
    gen = meta["generator"]
    rounds = meta.get("rounds", 1)
    out = [
        f"load generator: {gen['name']} ({gen.get('version') or '?'}), {meta['connections']} connections, "
        f"{meta['duration_s']:g}s per run after {meta['warmup_s']:g}s warm-up (memory runs: counted requests, "
        f"built-in generator); {meta['cpus']} CPUs",
        "",
        table(runs, rounds=rounds > 1),
    ]
    if rounds > 1:
        out += ["", f"median of {rounds} rounds (errors: the sum; memory: first round only):", table(report["medians"])]
        short = [f"{m['target']}/{m['scenario']} ({m['rounds']})" for m in report["medians"] if m["rounds"] < rounds]
        if short:
            out.append("over fewer rounds (a run failed, or the run was interrupted): " + ", ".join(short))
    relative = relative_lines(report["relative_to_reference"])
    if relative:
        out += [""] + relative
    skipped = meta.get("skipped")
    if skipped:
        out += [
            "",
            "not run: "
            + ", ".join(f"{s['target']}/{s['scenario']}" for s in skipped)
            + " ("
            + "; ".join(dict.fromkeys(s["reason"] for s in skipped))
            + ")",
        ]
    verdicts = goals.lines(report.get("goals", []), meta["connections"])
    if verdicts:
        out += [""] + verdicts
    loops = report.get("open_loop") or {}
    if loops.get("runs"):
        shown = loops["medians"] if rounds > 1 else loops["runs"]
        where = f" (median of {rounds} rounds)" if rounds > 1 else ""
        out += [
            "",
            f"open loop{where}: a constant rate, a share of the target's closed-loop req/s (in brackets: a rate "
            "asked as such, and the share it was); latency from each request's intended send time:",
            open_loop_table(shown),
        ]
        equal = equal_rate_lines(loops.get("equal_rate"))
        if equal:
            out += [""] + equal
    memory = memory_table(runs)
    if memory:
        out += ["", "gateway memory (RSS of all its processes):", memory]
    flagged = [(r, f) for r in runs + loops.get("runs", []) for f in r["flags"]]
    if flagged:
        where = (lambda r: f" round {r.get('round', 1)}") if rounds > 1 else (lambda r: "")
        out += ["", "flags:"] + [f"  {r['target']}/{r['scenario']}{_loop(r)}{where(r)}: {f}" for r, f in flagged]
    out += ["", LEGEND]
    return "\n".join(line for line in out)


def _loop(run):
    if "open_loop" not in run:
        return ""
    loop = run["open_loop"]
    return " open loop " + open_loop.label(loop["share_pct"], loop["rate_asked"], loop.get("fixed", False))


def write_json(report, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, sort_keys=False) + "\n")
    return path
