"""`python -m bench`: start the targets, seed them, load every target with every scenario, report.

Examples:

    python -m bench                                   # every target (ours, the peers, the reference) on get_airport
    python -m bench --scenarios all --duration 20     # every scenario, memory included
    python -m bench --rounds 3                        # every target three times side by side; medians
    python -m bench --targets asgi --workers-layout split --worker-env MAX_WORKERS=20
    python -m bench --url asgi=http://127.0.0.1:8000  # a gateway started elsewhere
    python -m bench --smoke --out /tmp/bench          # a few seconds of everything (CI)
    python -m bench --open-loop                       # + constant rates at 25/50/75/90 % of each max
"""

import argparse
import datetime
import os
import platform
import re
import signal
import sys
import time
import traceback
import uuid
from pathlib import Path

from bench import chart, goals, load, measure, open_loop, report, summary
from bench.routes import routes_of
from bench.scenarios import DEFAULT as DEFAULT_SCENARIOS
from bench.scenarios import SCENARIOS, serves, skip_reason
from bench.seed import seed, seed_reference, with_bulk
from bench.targets import KINDS, REFERENCE, BenchTargets, Options
from devstack.layout import LAYOUTS, parse_layout, worker_variable

RESULTS = Path(__file__).resolve().parent / "results"
SMOKE = {"duration": 0.4, "warmup": 0.1, "seed_airports": 20, "memory_requests": (200, 600)}


def _pairs(values, option):
    result = {}
    for value in values or []:
        name, sep, rest = value.partition("=")
        if not sep or not name:
            raise SystemExit(f"{option} takes NAME=VALUE, not {value!r}")
        result[name] = rest
    return result


def tracing_share(value):
    """--tracing: "off", or the percentage of new traces sampled ("100", "1", "0.5%")."""
    if value.strip().lower() == "off":
        return None
    try:
        percent = float(value.strip().rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"off or a percentage, not {value!r}") from None
    if not 0 <= percent <= 100:
        raise argparse.ArgumentTypeError("a percentage from 0 to 100")
    return percent / 100


def _list(value):
    return [item.strip() for item in value.split(",") if item.strip()]


def parser():
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[2:]),
    )
    p.add_argument(
        "--targets",
        type=_list,
        help=f"comma-separated: {', '.join(KINDS)} or names given with --url "
        f"(default: all {len(KINDS)} kinds, or just the --url names)",
    )
    p.add_argument(
        "--scenarios",
        type=_list,
        default=None,
        help=f"comma-separated: {', '.join(SCENARIOS)}, or 'all' (default: {','.join(DEFAULT_SCENARIOS)})",
    )
    p.add_argument("--duration", type=float, default=10.0, help="seconds of measured load per run (default 10)")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds of unmeasured load before each run (default 3)")
    p.add_argument("--connections", type=int, default=32, help="concurrent keep-alive connections (default 32)")
    p.add_argument(
        "--open-loop",
        type=open_loop.shares,
        nargs="?",
        const=open_loop.shares(open_loop.DEFAULT_SHARES),
        metavar="PERCENTS",
        help="after each closed-loop run, load the target at these shares of the requests/s it reached, "
        "at a constant rate, latency counted from each request's intended send (bench/open_loop.py; "
        f"without a value: {open_loop.DEFAULT_SHARES}; default: no open-loop runs)",
    )
    p.add_argument(
        "--open-loop-rates",
        type=open_loop.rates,
        metavar="RATES",
        help="after each closed-loop run, load the target at these requests/s too (open loop), the same for "
        "every scenario, and compare each scenario's CPU per request with get_airport's at the same rate "
        "(bench/open_loop.py)",
    )
    p.add_argument(
        "--open-loop-duration",
        type=float,
        help="seconds of each open-loop run (default: --duration)",
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run every target and scenario this many times, side by side each time (in reverse "
        "order every other round), and report the medians too; the memory scenario runs in "
        "the first round only (default 1)",
    )
    p.add_argument("--out", type=Path, default=RESULTS, help=f"directory for the JSON and PNG (default {RESULTS})")
    p.add_argument(
        "--url",
        action="append",
        metavar="NAME=URL",
        help="measure a gateway already running at URL instead of starting one (repeatable)",
    )
    p.add_argument(
        "--workers-layout",
        default="combined",
        help=f"{' | '.join(LAYOUTS)} | groups like 'airports:2,trips+greeting' (a group per "
        "`nameko run`, ':N' replicas). Default: combined (all three in one process)",
    )
    p.add_argument(
        "--smoke", action="store_true", help="every target and scenario for half a second (CI); timings mean nothing"
    )
    p.add_argument(
        "--generator",
        choices=("auto", *load.GENERATORS),
        default="auto",
        help="wrk if installed, else the built-in asyncio generator (default auto)",
    )
    p.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    p.add_argument(
        "--timeout",
        type=float,
        default=5.0,
        help="seconds a request may take before it counts as a timeout error (default 5)",
    )
    p.add_argument(
        "--seed-airports",
        type=int,
        default=100,
        help="airports created per target; the reference reads another's (default 100)",
    )
    p.add_argument(
        "--data-size",
        type=int,
        default=0,
        metavar="N",
        help="before the seeding, load N airports and N trips straight into the run's Redis prefix "
        "(bench/bulk_load.py; one airport gets 100,000 of the trips, or a tenth below that), to see "
        "how cost grows with the data; the list scenarios' deep cursors point into the middle of it "
        "(default 0: only the seeded data)",
    )
    p.add_argument(
        "--memory-requests",
        default="10000,100000",
        metavar="N1,N2",
        help="memory scenario: gateway RSS after N1 and after N2 requests (default 10000,100000)",
    )
    p.add_argument(
        "--memory-limit-pct",
        type=float,
        default=10.0,
        help="memory scenario: RSS growth from N1 to N2 still called flat (default 10)",
    )
    g = p.add_argument_group("how the stack is started")
    g.add_argument("--asgi-workers", type=int, default=1, help="uvicorn --workers, asgi and reference (default 1)")
    g.add_argument("--asgi-pool-size", type=int, default=2, help="asgi RPC_POOL_SIZE: AMQP connections (default 2)")
    g.add_argument("--wsgi-workers", type=int, default=1, help="gunicorn -w (default 1)")
    g.add_argument("--wsgi-threads", type=int, default=16, help="gunicorn --threads (default 16)")
    g.add_argument(
        "--wsgi-pool-size",
        type=int,
        default=0,
        help="wsgi RPC_POOL_SIZE: ClusterRpcProxy instances per worker (default: = --wsgi-threads)",
    )
    g.add_argument(
        "--baseline-max-workers",
        type=int,
        default=10,
        help="baseline nameko max_workers: concurrent HTTP requests (default 10, nameko's)",
    )
    for peer, server in (("flask", "gunicorn gthread"), ("fastapi", "uvicorn; its threadpool")):
        g.add_argument(f"--{peer}-workers", type=int, default=1, help=f"{peer}: processes ({server}; default 1)")
        g.add_argument(f"--{peer}-threads", type=int, default=16, help=f"{peer}: threads ({server}; default 16)")
        g.add_argument(
            f"--{peer}-pool-size", type=int, default=0, help=f"{peer}: ClusterRpcProxy instances (default: = threads)"
        )
    g.add_argument(
        "--worker-env",
        action="append",
        metavar="[SERVICE:]KEY=VALUE",
        help="environment for the workers, e.g. MAX_WORKERS=20; airports:MAX_WORKERS=5 for the "
        "worker processes running airports only (repeatable)",
    )
    g.add_argument(
        "--gateway-env",
        action="append",
        metavar="KEY=VALUE",
        help="environment for the gateways but the reference, e.g. RPC_TIMEOUT=5 (repeatable; the peers read only "
        "LOG_LEVEL and FLASK_NAMEKO_*)",
    )
    g.add_argument(
        "--tracing",
        type=tracing_share,
        default=None,
        metavar="off|PERCENT",
        help="OpenTelemetry tracing in the gateways and workers: off (default: no OTEL_* variable "
        "set), or the percentage of new traces sampled (100, 1), exported to an OTLP/HTTP sink "
        "the harness starts (devstack/otlp_sink.py)",
    )
    g.add_argument(
        "--amqp-base",
        default=os.environ.get("BENCH_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672"),
        help="broker (without vhost) on which a vhost of the run's own is made; env BENCH_AMQP_URI",
    )
    g.add_argument(
        "--queue-type",
        choices=("classic", "quorum"),
        help="the default queue type of the run's vhost: quorum replicates the workers' queues over "
        "a cluster's nodes (default: quorum when --amqp-base lists several nodes, else the broker's)",
    )
    g.add_argument(
        "--redis-uri",
        default=os.environ.get("BENCH_REDIS_URI", "redis://127.0.0.1:6379/0"),
        help="Redis for the workers; keys go under a prefix of the run's own; env BENCH_REDIS_URI",
    )
    g.add_argument(
        "--run-id",
        help="names the vhost (bench-ID), Redis prefix (bench-ID:) and marks the "
        "processes (DEVSTACK_RUN_ID=ID); default random",
    )
    g.add_argument("--keep-logs", action="store_true", help="keep the processes' logs (their path is printed)")
    g.add_argument(
        "--cleanup",
        metavar="RUN_ID",
        help="only remove what run RUN_ID left behind if it was killed (-9): its processes, "
        "vhost and Redis keys; then exit",
    )
    return p


class Terminated(BaseException):
    """SIGINT (Ctrl+C), SIGTERM or SIGHUP: unwinds the run so everything started gets stopped."""


def _terminate(signum, frame):
    raise Terminated(signal.Signals(signum).name)


def cleanup(run_id, redis_uri):
    """What a run killed with SIGKILL could not remove (its processes die with it, by PDEATHSIG)."""
    from devstack import rabbitmq
    from devstack.isolation import delete_keys
    from devstack.processes import sweep

    killed = sweep(run_id)
    vhost = rabbitmq.delete_vhost(f"bench-{run_id}")
    keys = delete_keys(redis_uri, f"bench-{run_id}:")
    print(
        f"bench: run {run_id}: {killed} processes killed, vhost {'deleted' if vhost else 'absent'}, "
        f"{keys} Redis keys deleted"
    )
    return 0


def reference_partners(targets, urls):
    """The targets writing to the Redis prefix the reference reads, so it can GET their airports:
    the others started here when it is, the others given by --url when it is (then the user's
    business to make them share a Redis)."""
    external = REFERENCE in urls
    return [name for name in targets if name != REFERENCE and (name in urls) == external]


def seed_targets(bench_targets, targets, airports, lists=(), bulk=None):
    """{target: Seed}: each gateway through its own routes (bench/routes.py); the reference, which cannot
    create, reads its partners' airports (or, started alone, airports made over RPC). The targets
    in `lists` (those running a list scenario) with what those need: from `bulk` (a --data-size
    BulkLoad) when it has it all, else seeded through their API."""
    api_lists = set(lists) if bulk is None or not bulk.complete else set()
    seeds = {
        name: with_bulk(seed(bench_targets.targets[name].url, airports, name in api_lists, routes_of(name)), bulk)
        for name in targets
        if name != REFERENCE
    }
    if REFERENCE in targets:
        seeds[REFERENCE] = seed_reference(
            seeds, reference_partners(targets, bench_targets.options.urls), bench_targets.amqp_uri, airports
        )
    return seeds


def choose(args, urls):
    """The targets and scenarios asked for, checked: (targets, scenario names, targets to start,
    skipped pairs). SystemExit with the reason when the combination cannot run."""
    targets = args.targets or (list(urls) if urls else list(KINDS))
    scenario_names = args.scenarios or DEFAULT_SCENARIOS
    if (args.smoke and args.scenarios is None) or scenario_names == ["all"]:
        scenario_names = list(SCENARIOS)
    unknown = [s for s in scenario_names if s not in SCENARIOS]
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    for name in targets:
        if name not in KINDS and name not in urls:
            raise SystemExit(f"target {name!r} is none of {', '.join(KINDS)} and has no --url")
    if REFERENCE in urls and REFERENCE in targets and not reference_partners(targets, urls):
        raise SystemExit(
            "--url reference=...: the reference cannot create airports; also give with --url "
            "the gateway whose Redis it reads (it GETs the airports seeded through that one)"
        )
    skipped = [
        {"target": t, "scenario": s, "reason": skip_reason(t, s)}
        for s in scenario_names
        for t in targets
        if not serves(t, s)
    ]
    # a target serving none of the scenarios (the reference, but for get_airport) is not started
    serving = [t for t in targets if any(serves(t, s) for s in scenario_names)]
    if not serving:
        raise SystemExit(f"nothing to run: {', '.join(targets)} serve(s) none of {', '.join(scenario_names)}")
    return targets, scenario_names, serving, skipped


def check_options(args):
    """The options that are not about targets: SystemExit with the reason when one is malformed.
    Returns the memory scenario's request counts."""
    if args.run_id and not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", args.run_id):
        raise SystemExit("--run-id: 1-40 letters, digits, '-' or '_'")
    try:
        scoped = [worker_variable(key) for key in _pairs(args.worker_env, "--worker-env") if ":" in key]
        groups = parse_layout(args.workers_layout)
        memory_requests = tuple(int(n) for n in args.memory_requests.split(","))
        if len(memory_requests) != 2 or not 0 < memory_requests[0] < memory_requests[1]:
            raise ValueError("--memory-requests takes N1,N2 with 0 < N1 < N2")
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    for service, key in scoped:
        shared = sorted({other for services, _ in groups if service in services for other in services} - {service})
        if shared:
            print(
                f"bench: --worker-env {service}:{key} also reaches {', '.join(shared)}, which run(s) in the same "
                "process",
                file=sys.stderr,
            )
    if args.rounds < 1:
        raise SystemExit("--rounds: at least 1")
    return memory_requests


def load_settings(args, memory_requests):
    """How each run loads its target (the generator and its figures; --smoke shortens them)."""
    if args.smoke:
        args.duration, args.warmup = SMOKE["duration"], SMOKE["warmup"]
        args.seed_airports = SMOKE["seed_airports"]
        memory_requests = SMOKE["memory_requests"]
    return argparse.Namespace(
        generator=load.choose(args.generator),
        connections=args.connections,
        duration=args.duration,
        warmup=args.warmup,
        timeout=args.timeout,
        threads=args.threads,
        memory_requests=memory_requests,
        memory_limit_pct=args.memory_limit_pct,
        open_loop_shares=args.open_loop or (),
        open_loop_rates=args.open_loop_rates or (),
        open_loop_duration=args.open_loop_duration or args.duration,
    )


def stack_options(args, urls):
    return Options(
        amqp_base=args.amqp_base,
        queue_type=args.queue_type or ("quorum" if ";" in args.amqp_base else None),
        redis_uri=args.redis_uri,
        workers_layout=args.workers_layout,
        worker_env=_pairs(args.worker_env, "--worker-env"),
        gateway_env=_pairs(args.gateway_env, "--gateway-env"),
        asgi_workers=args.asgi_workers,
        asgi_pool_size=args.asgi_pool_size,
        wsgi_workers=args.wsgi_workers,
        wsgi_threads=args.wsgi_threads,
        wsgi_pool_size=args.wsgi_pool_size,
        baseline_max_workers=args.baseline_max_workers,
        flask_workers=args.flask_workers,
        flask_threads=args.flask_threads,
        flask_pool_size=args.flask_pool_size,
        fastapi_workers=args.fastapi_workers,
        fastapi_threads=args.fastapi_threads,
        fastapi_pool_size=args.fastapi_pool_size,
        urls=urls,
        tracing=args.tracing,
    )


def run_plan(serving, scenario_names, rounds):
    """(round, scenario, target) in the order they run; the memory scenario in round 1 only."""
    return [
        (number, SCENARIOS[scenario_name], name)
        for number in range(1, rounds + 1)
        for scenario_name in scenario_names
        if number == 1 or not SCENARIOS[scenario_name].memory
        for name in summary.order(serving, number)
        if serves(name, scenario_name)
    ]  # the others are in meta["skipped"]


def describe_run(args, argv, started, targets, scenario_names, skipped, settings, rounds):
    """The report's meta: what ran, where, with what."""
    return {
        "started_at": started.isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, "-m", "bench", *(argv if argv is not None else sys.argv[1:])]),
        "smoke": args.smoke,
        "host": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "kernel": platform.release(),
            "machine": platform.machine(),
        },
        "cpus": os.cpu_count(),
        "generator": load.describe(settings.generator, args.threads),
        "warmup_generator": "builtin",
        "connections": args.connections,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "rounds": rounds,
        "open_loop": (
            {
                "shares_pct": list(settings.open_loop_shares),
                "rates": list(settings.open_loop_rates),
                "duration_s": settings.open_loop_duration,
            }
            if settings.open_loop_shares or settings.open_loop_rates
            else None
        ),
        "timeout_s": args.timeout,
        "targets": targets,
        "scenarios": {name: SCENARIOS[name].description for name in scenario_names},
        "skipped": skipped,  # (target, scenario) pairs not run: routes the target does not serve
        "notes": [
            "RabbitMQ (beam.smp) and Redis (redis-server) are the machine's shared services: their CPU "
            "includes anything else using them during a window.",
            "The load generator runs on the same machine and competes with the stack for CPU.",
        ],
    }


def measure_all(bench_targets, plan, seeds, settings, run_id, t0):
    """Every (round, scenario, target) of the plan, each closed-loop run followed by its open-loop
    ones when asked: (runs, open-loop runs, failures); a failed run is recorded and the next one
    goes on."""
    runs, open_runs, failures = [], [], []
    rounds = plan[-1][0]
    for number, scenario, name in plan:
        target = bench_targets.targets[name]
        where = f" round {number}" if rounds > 1 else ""
        print(f"bench: {name} / {scenario.name}{where} ({time.monotonic() - t0:.1f}s)", file=sys.stderr, flush=True)
        requests = scenario.build(seeds[name], routes_of(name))
        try:
            if scenario.memory:
                entry = measure.measure_memory(target, bench_targets, scenario, requests, settings, run_id)
            else:
                entry = measure.measure(target, bench_targets, scenario, requests, settings, run_id)
        except Exception as exc:
            failures.append(
                {"target": name, "scenario": scenario.name, "round": number, "error": f"{type(exc).__name__}: {exc}"}
            )
            traceback.print_exc()
            continue
        entry["round"] = number
        runs.append(entry)
        if scenario.memory or not entry["rps"]:
            continue
        for load_asked in open_loop.loads(settings, entry["rps"]):
            at = open_loop.label(*load_asked)
            print(f"bench: {name} / {scenario.name}{where}: open loop {at}", file=sys.stderr, flush=True)
            try:
                extra = open_loop.measure_at(
                    target, bench_targets, scenario, requests, settings, run_id, load_asked, entry["rps"]
                )
            except Exception as exc:
                failures.append(
                    {
                        "target": name,
                        "scenario": f"{scenario.name} open loop {at}",
                        "round": number,
                        "error": f"{type(exc).__name__}: {exc}",
                    }
                )
                traceback.print_exc()
                continue
            extra["round"] = number
            open_runs.append(extra)
    return runs, open_runs, failures


def publish(result, out_json):
    """The JSON, the chart beside it, and the text report on stdout."""
    out_png = out_json.with_suffix(".png")
    report.write_json(result, out_json)
    chart.draw(result, out_png)
    print(report.text(result))
    print(f"\nreport: {out_json}\nchart:  {out_png}")
    if result["open_loop"]["runs"]:
        latency_png = out_json.with_name(out_json.stem + "-latency.png")
        chart.draw_open_loop(result, latency_png)
        print(f"latency against throughput: {latency_png}")


def main(argv=None):
    args = parser().parse_args(argv)
    if args.cleanup:
        return cleanup(args.cleanup, args.redis_uri)
    urls = _pairs(args.url, "--url")
    targets, scenario_names, serving, skipped = choose(args, urls)
    if args.data_size and (args.data_size < 2 or all(name in urls for name in serving)):
        raise SystemExit("--data-size: at least 2, and a target started here (it loads the run's Redis prefix)")
    settings = load_settings(args, check_options(args))
    plan = run_plan(serving, scenario_names, args.rounds)
    rounds = plan[-1][0]  # fewer than asked when only the memory scenario runs
    run_id = args.run_id or uuid.uuid4().hex[:10]
    # Also SIGINT: a shell starting us in the background leaves it ignored, which would make an
    # explicit `kill -INT` do nothing.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _terminate)

    started = datetime.datetime.now(datetime.UTC)
    out_json = args.out / f"bench-{started.strftime('%Y%m%d-%H%M%S')}-{run_id}.json"
    meta = describe_run(args, argv, started, targets, scenario_names, skipped, settings, rounds)
    runs, open_runs, failures = [], [], []
    t0 = time.monotonic()
    bench_targets = BenchTargets(serving, stack_options(args, urls), run_id)
    print(
        f"bench: run {run_id}: targets {', '.join(targets)}; scenarios {', '.join(scenario_names)}; "
        f"generator {settings.generator}",
        file=sys.stderr,
    )
    status = 0
    try:
        with bench_targets:
            meta["stack"] = bench_targets.describe()
            where = (
                f"vhost {bench_targets.vhost}, Redis prefix {bench_targets.redis_prefix}"
                if bench_targets.vhost_created
                else "external"
            )
            print(f"bench: stack up in {time.monotonic() - t0:.1f}s ({where})", file=sys.stderr)
            bulk = None
            if args.data_size:
                from bench import bulk_load

                bulk = bulk_load.load_into(bench_targets, args.data_size)
                meta["data_size"] = bulk.summary()
            lists = [t for t in serving if any(SCENARIOS[s].lists and serves(t, s) for s in scenario_names)]
            seeds = seed_targets(bench_targets, serving, args.seed_airports, lists, bulk)
            print(f"bench: seeded ({time.monotonic() - t0:.1f}s)", file=sys.stderr)
            runs, open_runs, failures = measure_all(bench_targets, plan, seeds, settings, run_id, t0)
            bench_targets.keep_logs = args.keep_logs or bool(failures)
    except (KeyboardInterrupt, Terminated) as exc:
        print(f"bench: interrupted ({exc or type(exc).__name__}); stopped everything it started", file=sys.stderr)
        status = 130
    except Exception as exc:
        traceback.print_exc()
        print(f"bench: failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        status = 1
    signal.signal(signal.SIGINT, signal.default_int_handler)  # nothing left to clean up
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    meta["finished_at"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    meta["elapsed_s"] = round(time.monotonic() - t0, 1)
    result = {
        "meta": meta,
        "runs": runs,
        "medians": summary.medians(runs),
        "open_loop": {
            "runs": open_runs,
            "medians": open_loop.medians(open_runs),
            "equal_rate": open_loop.equal_rate(open_runs),
        },
        "failures": failures,
        "relative_to_reference": report.relative_to_reference(runs),
        "goals": goals.check(runs),
    }
    if failures and status == 0:
        status = 1
    if runs or status == 0:
        publish(result, out_json)
    if failures:
        lines = [f"  {f['target']}/{f['scenario']} round {f['round']}: {f['error']}" for f in failures]
        print(f"\n{len(failures)} run(s) failed:", *lines, sep="\n", file=sys.stderr)
    return status
