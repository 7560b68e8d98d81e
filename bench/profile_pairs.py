"""`python -m bench.profile_pairs`: where two gateways spend their CPU, profiled with py-spy under
the same load, in interleaved pairs (BENCHMARKS.md, "The article's own gateway against the
baseline", was made with it).

Each pair runs each target in turn (the order reversed every other pair, as `--rounds` does): the
harness's warm-up, then its measured window (bench/measure.py: wrk or the built-in generator, CPU
per request from /proc) while `py-spy record --format raw` samples the gateway's process. In
--out: <target>-<pair>.txt (collapsed stacks: flamegraph.pl, speedscope and py-spy's own viewers
read them), results.json (each window's requests/s and CPU per request), and on stdout each
category's share of each target's samples, with what it comes to per request (share x the
window's gateway CPU per request), then the functions that differ most.

Needs py-spy (`pip install py-spy`, not a dependency of the project) and the right to trace the
gateway (root). Targets whose gateway is one process (the nameko ones) give the clearest profile.
"""

import argparse
import collections
import json
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from bench import measure
from bench.routes import routes_of
from bench.scenarios import SCENARIOS
from bench.seed import seed
from bench.targets import KINDS, BenchTargets, Options

FRAME = re.compile(r"^(.*) \(([^:]*):\d+\)$")  # py-spy's "function (file.py:line)"
# (name, what a stack's frames hold to count in it); inclusive: a sample counts in every category it touches
CATEGORIES = (
    ("HTTP server: read, parse, write (eventlet.wsgi)", "eventlet/wsgi.py"),
    ("werkzeug (Request, Response, routing)", "werkzeug/"),
    ("werkzeug routing", "werkzeug/routing"),
    ("the handler (bench/*_gateway.py)", "_gateway.py"),
    ("RPC publish (nameko Publisher, confirms)", "Publisher.publish"),
    ("reply consumer (nameko ReplyListener, kombu)", "ConsumerMixin.run"),
    ("worker container (nameko containers.py)", "nameko/containers.py"),
    ("json", "json/"),
    ("logging", "logging/"),
)


def pyspy_command(pyspy, pid, seconds, rate, path, nonblocking=False):
    argv = [pyspy, "record", "-r", str(rate), "-d", str(max(1, int(seconds))), "--pid", str(pid)]
    return argv + ["--format", "raw", "-o", str(path)] + (["--nonblocking"] if nonblocking else [])


def read_stacks(path):
    """[(frames without line numbers, samples)] of a raw (collapsed) profile. Split on newlines
    only: a stack read while the process ran on (--nonblocking) may hold any other character."""
    stacks = []
    for line in Path(path).read_text(errors="replace").split("\n"):
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [f"{m.group(1)} ({m.group(2)})" if (m := FRAME.match(frame)) else frame for frame in stack.split(";")]
        stacks.append((frames, int(count)))
    return stacks


def shares(stacks):
    """({category: share of samples}, {function: share of samples}), both inclusive."""
    total = sum(count for _, count in stacks) or 1
    categories, functions = collections.Counter(), collections.Counter()
    for frames, count in stacks:
        for name, marker in CATEGORIES:
            if any(marker in frame for frame in frames):
                categories[name] += count
        for function in set(frames):
            functions[function] += count
    return {k: v / total for k, v in categories.items()}, {k: v / total for k, v in functions.items()}


def summary(windows, top=25):
    """The text comparing the targets: windows = [{"target", "gateway_us", "stacks"}]."""
    targets = list(dict.fromkeys(w["target"] for w in windows))
    per_target = {
        t: [(shares(w["stacks"]), w["gateway_us"] or 0) for w in windows if w["target"] == t] for t in targets
    }

    def mean(target, index, name, per_request=False):
        values = [s[index].get(name, 0) * (us if per_request else 100) for s, us in per_target[target]]
        return sum(values) / len(values)

    head = "".join(f"{t:>12} %" for t in targets) + "".join(f"{t:>12} us" for t in targets)
    lines = [f"{'category (inclusive: % of samples, us per request)':52}{head}"]
    for name, _ in CATEGORIES:
        cells = [mean(t, 0, name) for t in targets] + [mean(t, 0, name, True) for t in targets]
        lines.append(
            f"{name:52}"
            + "".join(f"{c:14.1f}" for c in cells[: len(targets)])
            + "".join(f"{c:15.0f}" for c in cells[len(targets) :])
        )
    if len(targets) == 2:
        a, b = targets
        functions = set().union(*(s[1] for ts in per_target.values() for s, _ in ts))
        gap = {f: mean(a, 1, f, True) - mean(b, 1, f, True) for f in functions}
        lines += ["", f"functions differing most, us per request (inclusive), {a} minus {b}:"]
        for function in sorted(functions, key=lambda f: -abs(gap[f]))[:top]:
            lines.append(
                f"  {gap[function]:+6.0f}  {mean(a, 1, function):5.1f}% {mean(b, 1, function):5.1f}%  {function[:100]}"
            )
    return "\n".join(lines)


def profile_window(stack, name, requests, settings, run_id, path, args):
    """One measured window of target `name`, py-spy recording its gateway process meanwhile."""
    target = stack.targets[name]
    pid = min(target.pids())  # the session's leader: the one process of a nameko gateway
    command = pyspy_command(args.pyspy, pid, settings.duration - 1, args.rate, path, args.nonblocking)

    recorded = []

    def record():
        time.sleep(settings.warmup + 0.5)  # into the measured window
        recorded.append(subprocess.run(command, capture_output=True, text=True, check=False))

    recorder = threading.Thread(target=record)
    recorder.start()
    try:
        entry = measure.measure(target, stack, SCENARIOS[args.scenario], requests, settings, run_id)
    finally:
        recorder.join()
    if not path.exists():
        raise RuntimeError(f"py-spy recorded nothing: {' '.join(command)}\n{recorded[0].stderr[-2000:]}")
    return entry


def parser():
    p = argparse.ArgumentParser(prog="python -m bench.profile_pairs", description=__doc__.splitlines()[0])
    p.add_argument("--targets", default="article,baseline", help=f"two or more of {', '.join(KINDS)}")
    p.add_argument("--pairs", type=int, default=3, help="each target this many times, interleaved (default 3)")
    p.add_argument("--scenario", default="get_airport", choices=[s for s in SCENARIOS if not SCENARIOS[s].memory])
    p.add_argument("--duration", type=float, default=15.0, help="seconds of each measured window (default 15)")
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--rate", type=int, default=200, help="py-spy samples per second (default 200)")
    p.add_argument("--nonblocking", action="store_true", help="py-spy does not pause the process (stacks may tear)")
    p.add_argument("--gateway-env", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--pyspy", default=shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy")))
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--out", type=Path, default=Path("bench/results/profiles"))
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    if not Path(args.pyspy).exists():
        raise SystemExit("py-spy not found: pip install py-spy (and run as root)")
    run_id = "prof-" + uuid.uuid4().hex[:8]
    out = args.out / run_id
    out.mkdir(parents=True, exist_ok=True)
    settings = argparse.Namespace(
        generator="wrk" if shutil.which("wrk") else "builtin",
        connections=args.connections,
        duration=args.duration,
        warmup=args.warmup,
        timeout=5.0,
        threads=1,
    )
    env = dict(pair.split("=", 1) for pair in args.gateway_env)
    results, windows = [], []
    with BenchTargets(targets, Options(gateway_env=env), run_id) as stack:
        stack.keep_logs = False
        seeds = {name: seed(stack.targets[name].url, 100, False, routes_of(name)) for name in targets}
        for pair in range(1, args.pairs + 1):
            for name in targets if pair % 2 else targets[::-1]:
                path = out / f"{name}-{pair}.txt"
                requests = SCENARIOS[args.scenario].build(seeds[name], routes_of(name))
                entry = profile_window(stack, name, requests, settings, run_id, path, args)
                row = {"pair": pair, "target": name, "rps": round(entry["rps"], 1), **entry["cpu_us_per_request"]}
                results.append(row)
                windows.append({"target": name, "gateway_us": row["gateway"], "stacks": read_stacks(path)})
                print(json.dumps(row), file=sys.stderr, flush=True)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    print(f"profiles and results: {out}\n")
    print(summary(windows, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
