"""Several rounds of the same runs (`--rounds N`) summed up: per target and scenario, the median
of each figure over the rounds.

Ten seconds of load on a shared 2-core machine is a noisy sample: the same code's CPU per request
moved by 30 % between runs minutes apart (where the scheduler places five busy processes on two
CPUs decides much of it). Rounds run every target side by side again, in reverse order every
other round so that drift over time does not always favour the same one (evenly so over an
even number of rounds), and the median keeps one odd round from deciding the figure.
"""

import statistics


def median(values, digits=3):
    """The median of the known values (None: unknown), rounded; None if none is known."""
    known = [v for v in values if v is not None]
    return round(statistics.median(known), digits) if known else None


def _medians(dicts):
    return {key: median([d[key] for d in dicts]) for key in dicts[0]}


def _summed(dicts):
    return {key: sum(d[key] for d in dicts) for key in dicts[0]}


def median_run(runs):
    first = runs[0]
    errors = [run["errors"] for run in runs]
    return {
        "target": first["target"],
        "scenario": first["scenario"],
        "generator": first["generator"],
        "connections": first["connections"],
        "rounds": len(runs),
        "requests": sum(run["requests"] for run in runs),
        "rps": median([run["rps"] for run in runs]),
        "latency_ms": _medians([run["latency_ms"] for run in runs]),
        "errors": {
            "non_2xx": sum(e["non_2xx"] for e in errors),
            "socket": _summed([e["socket"] for e in errors]),
            "total": sum(e["total"] for e in errors),
        },
        # each CPU column is a median of its own: they need not add up to stack_total's
        "cpu_us_per_request": _medians([run["cpu_us_per_request"] for run in runs]),
        "loadgen": {
            "cores": median([run["loadgen"]["cores"] for run in runs]),
            "threads": first["loadgen"]["threads"],
            "saturated": any(run["loadgen"]["saturated"] for run in runs),
        },
        # each round's flags are in its own run
        "flags": [],
    }


def medians(runs):
    """One run-shaped entry per (target, scenario) of the load runs: medians of the rounds'
    figures, errors summed over them (errors in any round are not averaged away)."""
    groups = {}
    for run in runs:
        if not run.get("memory"):
            groups.setdefault((run["target"], run["scenario"]), []).append(run)
    return [median_run(group) for group in groups.values()]


def order(targets, round_number):
    """The targets in the order round `round_number` (from 1) runs them."""
    return list(targets) if round_number % 2 else list(reversed(targets))
