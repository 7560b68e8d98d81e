"""python -m drills <drill> --url http://gateway:8000 [options]

Faults are shell commands run at the right moment, e.g. for the Compose file:
  python -m drills worker-failure --url http://localhost:8000 \\
      --fault "docker compose -f compose/docker-compose.yml kill -s KILL airports"
  python -m drills broker-outage --url http://localhost:8000 \\
      --stop "docker compose -f compose/docker-compose.yml stop rabbitmq" \\
      --start "docker compose -f compose/docker-compose.yml start rabbitmq"
  python -m drills redis-failover --url http://localhost:8000 \\
      --fault "python -m devstack.redis_sentinel kill-primary --dir DIR" \\
      --start "python -m devstack.redis_sentinel restart --dir DIR"
  python -m drills broker-node-loss --url http://localhost:8000 \\
      --kill "docker compose -f compose/docker-compose.yml --profile cluster kill -s KILL rabbitmq-1" \\
      --restore "docker compose -f compose/docker-compose.yml --profile cluster start rabbitmq-1" \\
      --kill ... --restore ...    (one pair per node, run in turn)
  python -m drills hostile-clients --url http://127.0.0.1:8000 [--metrics-url URL] [--log FILE]
  python -m drills rolling-deploy [--kind asgi --kind wsgi] [--grace 5]
      (starts its own workers, gateways and haproxy on loopback, on the broker and Redis given)
  python -m drills rabbit-freeze|redis-freeze|rabbit-cut-off|redis-split-brain|lossy-link|
      majorities-ring|partition-kill [--dir DIR] [--wait-replicas N] [--min-replicas N]
      (as root: makes hosts of their own in network namespaces, devstack/hosts.py; docs/faults.md)
Exit status 0 when the drill passed, 1 when it did not.
"""

import argparse
import shlex
import subprocess
import sys

from drills import broker_node_loss, host_faults, hostile_clients, redis_failover, rolling_deploy, scenarios


def command(text):
    """A fault hook running a shell command; the drill fails loudly if the command does."""

    def run():
        subprocess.run(text, shell=True, check=True)

    run.__name__ = shlex.split(text)[0] if text else "noop"
    return run


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m drills",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    parser.add_argument(
        "drill",
        choices=[
            "worker-failure",
            "broker-outage",
            "broker-node-loss",
            "redis-outage",
            "redis-failover",
            "saturation",
            "timeouts",
            "hostile-input",
            "hostile-clients",
            "rolling-deploy",
            *host_faults.FAULTS,
        ],
    )
    parser.add_argument("--url", action="append", help="the gateway's base URL (outage drills take several)")
    parser.add_argument("--token", help="a bearer token, if the gateway asks for one")
    parser.add_argument(
        "--fault", help="worker-failure: the command that breaks a worker; redis-failover: kills the primary"
    )
    parser.add_argument("--stop", help="outages: the command that takes the dependency down")
    parser.add_argument(
        "--start", help="outages: the command that brings it back; redis-failover: restarts the killed node"
    )
    parser.add_argument("--max-lost", type=int, help="redis-failover: acknowledged writes it may lose (default: any)")
    parser.add_argument("--path", help="saturation, timeouts: a GET path that is slow / hangs")
    parser.add_argument("--kill", action="append", help="broker-node-loss: the command that kills a node (repeat)")
    parser.add_argument("--restore", action="append", help="broker-node-loss: the command that brings it back")
    parser.add_argument("--metrics-url", help="hostile-clients: where the gateway serves /metrics (default: --url)")
    parser.add_argument("--log", help="hostile-clients: the gateway's log file, read back for forged lines")
    parser.add_argument("--duration", type=float, default=10.0, help="hostile-clients: seconds of slow clients")
    parser.add_argument("--concurrency", type=int, default=None)
    parser.add_argument("--limit", type=float, default=11.0, help="timeouts: longest acceptable 504 (s)")
    parser.add_argument("--kind", action="append", choices=["asgi", "wsgi"], help="rolling-deploy: gateway kinds")
    parser.add_argument("--grace", type=float, default=5.0, help="rolling-deploy: the gateways' SHUTDOWN_GRACE")
    parser.add_argument("--amqp", default="amqp://guest:guest@127.0.0.1:5672", help="rolling-deploy: the broker")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15", help="rolling-deploy: Redis")
    parser.add_argument("--dir", default=".run/host-faults", help="host faults: where the hosts keep files and logs")
    parser.add_argument("--wait-replicas", type=int, help="host faults: the workers' REDIS_WAIT_REPLICAS")
    parser.add_argument("--min-replicas", type=int, help="host faults: Redis's min-replicas-to-write")
    parser.add_argument("--partition-handling", help="host faults: RabbitMQ's cluster_partition_handling")
    args = parser.parse_args(argv)

    if args.drill in host_faults.FAULTS:
        extra = {} if args.wait_replicas is None else {"REDIS_WAIT_REPLICAS": args.wait_replicas}
        redis = {} if args.min_replicas is None else {"min-replicas-to-write": args.min_replicas}
        outcomes = host_faults.drill(
            [args.drill],
            args.dir,
            clients=args.concurrency or 8,
            worker_extra=extra,
            redis_settings=redis,
            partition_handling=args.partition_handling,
        )
        return 0 if not any(outcome.misses() for outcome in outcomes) else 1
    if args.drill == "rolling-deploy":
        reports = rolling_deploy.rolling_deploy(
            tuple(args.kind or ("asgi", "wsgi")),
            amqp_base=args.amqp,
            redis_uri=args.redis,
            grace=args.grace,
            concurrency=args.concurrency or 8,
        )
        print("\n".join(map(str, reports)))
        return 0 if all(report.passed for report in reports) else 1
    url = _need(parser, args.url, "--url")[0]
    if args.drill == "worker-failure":
        report = scenarios.worker_failure(
            url,
            command(_need(parser, args.fault, "--fault")),
            duration=args.duration,
            concurrency=args.concurrency or 8,
            token=args.token,
        )
    elif args.drill in ("broker-outage", "redis-outage"):
        report = scenarios.outage(
            args.url,
            command(_need(parser, args.stop, "--stop")),
            command(_need(parser, args.start, "--start")),
            what=args.drill.split("-")[0],
            token=args.token,
        )
    elif args.drill == "redis-failover":
        report = redis_failover.redis_failover(
            url,
            command(_need(parser, args.fault, "--fault")),
            restart=command(args.start) if args.start else None,
            concurrency=args.concurrency or 8,
            max_lost=args.max_lost,
            token=args.token,
        )
    elif args.drill == "broker-node-loss":
        kills, restores = args.kill or [], args.restore or []
        if not kills or len(kills) != len(restores):
            parser.error("broker-node-loss needs as many --restore as --kill, one pair per node")
        faults = [(command(k), command(r)) for k, r in zip(kills, restores, strict=True)]
        report = broker_node_loss.broker_node_loss(
            args.url, faults, concurrency=args.concurrency or 32, token=args.token
        )
    elif args.drill == "saturation":
        report = scenarios.saturation(url, _need(parser, args.path, "--path"), concurrency=args.concurrency or 200)
    elif args.drill == "timeouts":
        report = scenarios.timeouts(
            url, _need(parser, args.path, "--path"), concurrency=args.concurrency or 20, limit=args.limit
        )
    elif args.drill == "hostile-clients":
        report = hostile_clients.hostile_clients(
            url, metrics_url=args.metrics_url, log_path=args.log, slow_seconds=args.duration, token=args.token
        )
    else:
        report = scenarios.hostile_input(url, token=args.token)
    print(report)
    return 0 if report.passed else 1


def _need(parser, value, option):
    if not value:
        parser.error(f"this drill needs {option}")
    return value


if __name__ == "__main__":
    sys.exit(main())
