"""The benchmark issues' goals, checked against a run's own figures: all ratios to a target measured
in the same round, so that they carry over to another machine.

The ASGI gateway on `get_airport` with 32 connections, on one 2-core machine:
- against the baseline (issue 6): requests/s and p99, and two goals the issue gave in microseconds
  of its machine, kept in the form scaled by a yardstick it named: the gateway's CPU against the
  reference's (the issue measured it at 160 us, so 250 us is 1.56x), the stack's against the
  baseline's (3.4 ms, so 1.5 ms is 0.44x). The microsecond forms are retired: an absolute figure
  on a shared VM says more about the VM than about the code;
- against the best of the peers (issue 17): the designs people would otherwise pick, the article's
  own gateway (`article`) and its design on the project's routes (`baseline`), Flask with
  flask_nameko, FastAPI with a queue of ClusterRpcProxy (bench/peers/); and the worker tier and the
  whole stack against the reference's CPU per request;
- a trip create's CPU against a GET's at the same rate (issue 32, `WRITE_COST`), from the open-loop
  runs at fixed rates.

With several rounds (`--rounds`), every check is made round by round (each round ran the targets
side by side) and the verdict is on the median round.
"""

from dataclasses import dataclass

from bench.summary import median
from bench.targets import REFERENCE

SCENARIO = "get_airport"
CONNECTIONS = 32
GATEWAY = "asgi"
BASELINE = "baseline"
ISSUE_REFERENCE_US = 160  # what issue 6 measured the reference at, on its machine
ISSUE_BASELINE_STACK_US = 3400  # and the baseline's whole stack
ARTICLE = "article"
PEERS = (BASELINE, ARTICLE, "flask", "fastapi")  # the designs the gateway is held against


@dataclass(frozen=True)
class Check:
    name: str
    unit: str  # "x" for ratios, "%"
    limit: float
    at_most: bool  # met when the value is <= limit (else >=)
    value: object  # {target: run} of one round (the gateway's among them) -> figure or None

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


def _workers_us(run):
    return run["cpu_us_per_request"]["workers"]


def _over(figure, yardstick, its_figure=None):
    """runs -> the gateway's `figure` over the `yardstick` target's (its `its_figure`, when given),
    None when the yardstick did not run."""

    def value(runs):
        other = runs.get(yardstick)
        return _ratio(figure(runs[GATEWAY]), (its_figure or figure)(other)) if other else None

    return value


def _against_best_peer(figure, best):
    """The gateway's figure over the best peer's of the round (best: max or min); None without a peer."""

    def value(runs):
        peers = [figure(runs[name]) for name in PEERS if name in runs and figure(runs[name])]
        return _ratio(figure(runs[GATEWAY]), best(peers)) if peers else None

    return value


def _rps(run):
    return run["rps"]


def _p99(run):
    return run["latency_ms"]["p99"]


CHECKS = (
    Check("requests/s, multiple of the baseline's", "x", 2.5, False, _over(_rps, BASELINE)),
    Check("p99 latency, fraction of the baseline's", "x", 0.5, True, _over(_p99, BASELINE)),
    # issue 6's 250 us of gateway CPU and 1.5 ms of stack CPU, scaled by its yardsticks
    Check(
        "gateway CPU per request, multiple of the reference's",
        "x",
        250 / ISSUE_REFERENCE_US,
        True,
        _over(_gateway_us, REFERENCE),
    ),
    Check(
        "stack CPU per request, fraction of the baseline's",
        "x",
        1500 / ISSUE_BASELINE_STACK_US,
        True,
        _over(_stack_us, BASELINE),
    ),
    Check(
        f"requests/s, multiple of the best peer's ({', '.join(PEERS)})", "x", 4, False, _against_best_peer(_rps, max)
    ),
    Check("p99 latency, fraction of the best peer's", "x", 1 / 3, True, _against_best_peer(_p99, min)),
    Check(
        "workers CPU per request, multiple of the reference's",
        "x",
        2.5,
        True,
        _over(_workers_us, REFERENCE, _gateway_us),
    ),
    Check("stack CPU per request, multiple of the reference's", "x", 5, True, _over(_stack_us, REFERENCE, _gateway_us)),
)
# issue 32: a trip create at most 3x a GET's stack CPU, the two at the same rate (open loop,
# `--open-loop-rates`): CPU per request falls as the rate rises, so each at its own maximum (a GET's maximum
# is 6 times a create's) would measure the rates as much as the work
WRITE_COST = ("create_trip", 3.0)


def write_cost_verdict(entry):
    """The verdict on the gateway's trip creates at one rate, from an open_loop.equal_rate entry
    ("goal <= 3.00x: met"); None for any other entry."""
    scenario, limit = WRITE_COST
    if entry["target"] != GATEWAY or entry["scenario"] != scenario:
        return None
    if entry["median"] is None:
        return f"goal <= {limit:.2f}x: no verdict (short of the rate)"
    return f"goal <= {limit:.2f}x: {'met' if entry['median'] <= limit else 'MISSED'}"


MEMORY = Check(
    "gateway memory growth between the two checkpoints",
    "%",
    10,
    True,
    lambda runs: runs[GATEWAY]["memory"]["growth_pct"],
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
        figures = [item.value(r) if GATEWAY in r else None for r in rounds]
        verdict = _verdict(item, figures)
        if verdict:
            verdicts.append(verdict)
    memory = [run for run in runs if run.get("memory") and run["target"] == GATEWAY]
    verdict = _verdict(MEMORY, [MEMORY.value({GATEWAY: run}) for run in memory])
    if verdict:
        verdicts.append(verdict)
    return verdicts


def _figure(value, unit):
    return f"{value:.2f}x" if unit == "x" else f"{value:+.1f}%"


def lines(verdicts, connections):
    if not verdicts:
        return []
    rounds = max(len(v["rounds"]) for v in verdicts)
    where = f"median of {rounds} rounds" if rounds > 1 else "one round"
    out = [
        f"goals (benchmark issues 6 and 17: {GATEWAY} on {SCENARIO}, {CONNECTIONS} connections, against the "
        f"others of the same round; {where}):"
    ]
    if connections != CONNECTIONS:
        out.append(f"  (this run used {connections} connections: the goals are for {CONNECTIONS})")
    for v in verdicts:
        limit = ("<= " if v["at_most"] else ">= ") + _figure(v["limit"], v["unit"]).lstrip("+")
        verdict = "met" if v["met"] else "MISSED"
        line = f"  {v['check']:<56} {limit:>10}  {_figure(v['median'], v['unit']):>9}  {verdict}"
        if len(v["rounds"]) > 1:
            each = " ".join("-" if f is None else _figure(f, v["unit"]) for f in v["rounds"])
            known = sum(1 for f in v["rounds"] if f is not None)
            line += f"  (rounds: {each}; met in {v['rounds_met']} of {known})"
        out.append(line)
    return out
