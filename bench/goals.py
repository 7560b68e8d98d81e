"""The benchmark issue's goals, checked against a run's own figures.

The issue sets them for the ASGI gateway on `get_airport` with 32 connections, side by side with
the baseline (the article's design) on one 2-core machine. Two of them are in microseconds of
the issue's machine; each of those is also checked in a form that carries over to another
machine, scaled by a yardstick measured in the same round: the gateway against the reference
(the issue measured it at 160 us) and the stack against the baseline (3.4 ms).

With several rounds (`--rounds`), every check is made round by round (each round ran the targets
side by side) and the verdict is on the median round.
"""

from dataclasses import dataclass

from bench.stack import REFERENCE
from bench.summary import median

SCENARIO = "get_airport"
CONNECTIONS = 32
GATEWAY = "asgi"
BASELINE = "baseline"
ISSUE_REFERENCE_US = 160  # what the issue measured the reference at, on its machine
ISSUE_BASELINE_STACK_US = 3400


@dataclass(frozen=True)
class Check:
    name: str
    unit: str  # "x" for ratios, "us", "%"
    limit: float
    at_most: bool  # met when the value is <= limit (else >=)
    value: object  # (asgi run, baseline run, reference run) -> figure or None
    scaled: bool = False  # the check before it, in a form scaled by a yardstick of the same round

    def met(self, figure):
        return figure <= self.limit if self.at_most else figure >= self.limit


def _ratio(numerator, denominator):
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def _gateway_us(run):
    return run["cpu_us_per_request"]["gateway"]


def _stack_us(run):
    return run["cpu_us_per_request"]["stack_total"]


CHECKS = (
    Check(
        "requests/s, multiple of the baseline's",
        "x",
        2.5,
        False,
        lambda a, b, r: _ratio(a["rps"], b["rps"]) if b else None,
    ),
    Check(
        "p99 latency, fraction of the baseline's",
        "x",
        0.5,
        True,
        lambda a, b, r: _ratio(a["latency_ms"]["p99"], b["latency_ms"]["p99"]) if b else None,
    ),
    Check("gateway CPU per request", "us", 250, True, lambda a, b, r: _gateway_us(a)),
    Check(
        "the same as a multiple of the reference's",
        "x",
        250 / ISSUE_REFERENCE_US,
        True,
        lambda a, b, r: _ratio(_gateway_us(a), _gateway_us(r)) if r else None,
        scaled=True,
    ),
    Check("stack CPU per request (gateway+workers+RabbitMQ+Redis)", "us", 1500, True, lambda a, b, r: _stack_us(a)),
    Check(
        "the same as a fraction of the baseline's",
        "x",
        1500 / ISSUE_BASELINE_STACK_US,
        True,
        lambda a, b, r: _ratio(_stack_us(a), _stack_us(b)) if b else None,
        scaled=True,
    ),
)
MEMORY = Check(
    "gateway memory growth between the two checkpoints", "%", 10, True, lambda a, b, r: a["memory"]["growth_pct"]
)


def _by_round(runs):
    """{round: {target: run}} for the get_airport load runs."""
    rounds = {}
    for run in runs:
        if run["scenario"] == SCENARIO and not run.get("memory"):
            rounds.setdefault(run.get("round", 1), {})[run["target"]] = run
    return rounds


def _verdict(check, figures):
    """figures: one per round that ran, None where the round cannot tell (a run failed)."""
    known = [f for f in figures if f is not None]
    if not known:
        return None
    middle = median(known)
    return {
        "check": check.name,
        "scaled": check.scaled,
        "unit": check.unit,
        "limit": round(check.limit, 3),
        "at_most": check.at_most,
        "rounds": [None if f is None else round(f, 3) for f in figures],
        "median": middle,
        "met": check.met(middle),
        "rounds_met": sum(1 for f in known if check.met(f)),
    }


def check(runs):
    """[verdict] for every target the runs can tell (none without an asgi get_airport run)."""
    rounds = [targets for _, targets in sorted(_by_round(runs).items())]
    verdicts = []
    for item in CHECKS:
        figures = [item.value(r[GATEWAY], r.get(BASELINE), r.get(REFERENCE)) if GATEWAY in r else None for r in rounds]
        verdict = _verdict(item, figures)
        if verdict:
            verdicts.append(verdict)
    memory = [run for run in runs if run.get("memory") and run["target"] == GATEWAY]
    verdict = _verdict(MEMORY, [MEMORY.value(run, None, None) for run in memory])
    if verdict:
        verdicts.append(verdict)
    return verdicts


def _figure(value, unit):
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "%":
        return f"{value:+.1f}%"
    return f"{value:.0f} us"


def lines(verdicts, connections):
    if not verdicts:
        return []
    rounds = max(len(v["rounds"]) for v in verdicts)
    where = f"median of {rounds} rounds" if rounds > 1 else "one round"
    out = [f"goals (benchmark issue: {GATEWAY} against {BASELINE}, {SCENARIO}, {CONNECTIONS} connections; {where}):"]
    if connections != CONNECTIONS:
        out.append(f"  (this run used {connections} connections: the issue's goals are for {CONNECTIONS})")
    for v in verdicts:
        limit = ("<= " if v["at_most"] else ">= ") + _figure(v["limit"], v["unit"]).lstrip("+")
        verdict = "met" if v["met"] else "MISSED"
        name = ("  " if v["scaled"] else "") + v["check"]
        line = f"  {name:<56} {limit:>10}  {_figure(v['median'], v['unit']):>9}  {verdict}"
        if len(v["rounds"]) > 1:
            each = " ".join("-" if f is None else _figure(f, v["unit"]) for f in v["rounds"])
            known = sum(1 for f in v["rounds"] if f is not None)
            line += f"  (rounds: {each}; met in {v['rounds_met']} of {known})"
        out.append(line)
    return out
