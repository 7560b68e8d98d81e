"""python -m devstack.cluster up|down|status (scripts/cluster): three RabbitMQ nodes (clustered,
vhost `travel` with default queue type quorum) and the Redis Sentinel set, from the installed
Debian packages, in a directory of their own (CLUSTER_DIR, default .run/cluster), on free ports
or those given.

`up` starts them under a small supervisor process (it owns the nodes: `down` asks it to stop
them), waits until they serve, and prints the AMQP_URI and REDIS_URI to use (`--export`: as shell
`export` lines, for `eval`). `status` says what runs. Run as root or as the rabbitmq user."""

import argparse
import os
import shutil
import sys
from pathlib import Path

from devstack import supervisor
from devstack.processes import ROOT
from devstack.rabbitmq_cluster import RabbitCluster

DEFAULT_DIR = ROOT / ".run" / "cluster"


def _redis_set_class():
    """devstack.redis_sentinel.RedisSentinelSet, or None where it is not part of the checkout."""
    try:
        from devstack.redis_sentinel import RedisSentinelSet
    except ImportError:
        return None
    return RedisSentinelSet


def serve(directory, ports, redis_port):
    """The supervisor: start everything, write the state, wait for SIGTERM, stop everything."""
    stopping = supervisor.stop_requested()
    state = {"supervisor": os.getpid(), "ready": False}
    cluster = RabbitCluster(3, ports=ports, base_dir=directory / "rabbitmq")
    redis_set = None
    try:
        cluster.start()
        state.update(rabbitmq=cluster.state(), amqp_uri=cluster.uri)
        redis_class = _redis_set_class()
        if redis_class is None:
            state["redis_uri"] = None
            state["redis_note"] = "devstack.redis_sentinel is not in this checkout: no Redis set started"
        else:
            redis_set = redis_class(str(directory / "redis"), primary_port=redis_port)
            redis_set.start()
            state["redis_uri"] = redis_set.uri
        supervisor.serve_until_stopped(directory, state, stopping)
    except BaseException as exc:
        supervisor.record_failure(directory, state, exc)
        raise
    finally:
        if redis_set is not None:
            redis_set.stop()
        cluster.stop()
        (directory / supervisor.STATE).unlink(missing_ok=True)


def up(directory, ports, redis_port, export, timeout=300):
    args = (["--ports", ",".join(map(str, ports))] if ports else []) + (
        ["--redis-port", redis_port] if redis_port else []
    )
    state = supervisor.launch("devstack.cluster", directory, args, "3 RabbitMQ nodes and the Redis set", timeout)
    _print_uris(state, export)


def _print_uris(state, export):
    if state.get("redis_note"):
        print(f"note: {state['redis_note']}; REDIS_URI left as it is", file=sys.stderr)
    values = {"AMQP_URI": state["amqp_uri"]}
    if state.get("redis_uri"):
        values["REDIS_URI"] = state["redis_uri"]
        values["REDIS_WAIT_REPLICAS"] = "2"  # a split brain then lost no acknowledged write (docs/faults.md)
    for name, value in values.items():
        print(f"export {name}='{value}'" if export else f"{name}={value}")


def down(directory):
    state = supervisor.read_state(directory)
    if not state:
        print("no cluster running here", file=sys.stderr)
        return
    if not supervisor.stop(state):  # the supervisor died (kill -9): stop the nodes it left
        RabbitCluster.attach(state["rabbitmq"]).stop()
    shutil.rmtree(directory, ignore_errors=True)
    print("stopped", file=sys.stderr)


def status(directory):
    state = supervisor.read_state(directory)
    if not supervisor.running(state):
        print("down")
        return 1
    cluster = RabbitCluster.attach(state["rabbitmq"])
    for node in cluster.nodes:
        print(f"rabbitmq {node.name} :{node.port} {'running pid ' + str(node.pid) if node.running else 'DOWN'}")
    print(f"cluster running nodes: {', '.join(cluster.running_nodes()) or 'none'}")
    _print_uris(state, export=False)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="scripts/cluster", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "down", "status", "_serve"])
    parser.add_argument("--dir", type=Path, default=Path(os.environ.get("CLUSTER_DIR", DEFAULT_DIR)))
    parser.add_argument("--ports", help="the three AMQP ports, comma-separated (default: free ones)")
    parser.add_argument("--redis-port", type=int, help="the Redis primary's port (default: a free one)")
    parser.add_argument("--export", action="store_true", help="print `export NAME='value'` lines")
    args = parser.parse_args(argv)
    ports = [int(p) for p in args.ports.split(",")] if args.ports else None
    if ports and len(ports) != 3:
        parser.error("--ports takes three ports")
    directory = args.dir.resolve()
    return supervisor.dispatch(
        args.command,
        {
            "_serve": lambda: serve(directory, ports, args.redis_port),
            "up": lambda: up(directory, ports, args.redis_port, args.export),
            "down": lambda: down(directory),
            "status": lambda: status(directory),
        },
    )


if __name__ == "__main__":
    sys.exit(main())
