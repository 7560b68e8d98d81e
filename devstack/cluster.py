"""python -m devstack.cluster up|down|status (scripts/cluster): three RabbitMQ nodes (clustered,
vhost `travel` with default queue type quorum) and the Redis Sentinel set, from the installed
Debian packages, in a directory of their own (CLUSTER_DIR, default .run/cluster), on free ports
or those given.

`up` starts them under a small supervisor process (it owns the nodes: `down` asks it to stop
them), waits until they serve, and prints the AMQP_URI and REDIS_URI to use (`--export`: as shell
`export` lines, for `eval`). `status` says what runs. Run as root or as the rabbitmq user."""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from devstack.rabbitmq_cluster import RabbitCluster

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DIR = ROOT / ".run" / "cluster"
STATE = "state.json"


def _redis_set_class():
    """devstack.redis_sentinel.RedisSentinelSet, or None where it is not part of the checkout."""
    try:
        from devstack.redis_sentinel import RedisSentinelSet
    except ImportError:
        return None
    return RedisSentinelSet


def _read_state(directory):
    try:
        return json.loads((directory / STATE).read_text())
    except (OSError, ValueError):
        return None


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except (OSError, TypeError):
        return False


def serve(directory, ports, redis_port):
    """The supervisor: start everything, write the state, wait for SIGTERM, stop everything."""
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
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
        state["ready"] = True
        (directory / STATE).write_text(json.dumps(state, indent=2))
        while not stopping.wait(1):
            pass
    except BaseException as exc:
        state["error"] = f"{type(exc).__name__}: {exc}"
        (directory / STATE).write_text(json.dumps(state, indent=2))
        raise
    finally:
        if redis_set is not None:
            redis_set.stop()
        cluster.stop()
        (directory / STATE).unlink(missing_ok=True)


def up(directory, ports, redis_port, export, timeout=300):
    state = _read_state(directory)
    if not (state and _alive(state.get("supervisor"))):
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        directory.chmod(0o755)
        log = open(directory / "supervisor.log", "w")  # the supervisor keeps it open
        argv = [sys.executable, "-m", "devstack.cluster", "_serve", "--dir", str(directory)]
        if ports:
            argv += ["--ports", ",".join(map(str, ports))]
        if redis_port:
            argv += ["--redis-port", str(redis_port)]
        subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=log, start_new_session=True)
        print(f"starting 3 RabbitMQ nodes and the Redis set in {directory} ...", file=sys.stderr)
        deadline = time.monotonic() + timeout
        while True:
            state = _read_state(directory)
            if state and (state.get("ready") or state.get("error")):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"not up within {timeout}s; see {directory / 'supervisor.log'}")
            time.sleep(0.5)
        if state.get("error"):
            raise SystemExit(f"could not start: {state['error']} (see {directory / 'supervisor.log'})")
    _print_uris(state, export)


def _print_uris(state, export):
    if state.get("redis_note"):
        print(f"note: {state['redis_note']}; REDIS_URI left as it is", file=sys.stderr)
    values = {"AMQP_URI": state["amqp_uri"]}
    if state.get("redis_uri"):
        values["REDIS_URI"] = state["redis_uri"]
    for name, value in values.items():
        print(f"export {name}='{value}'" if export else f"{name}={value}")


def down(directory):
    state = _read_state(directory)
    if not state:
        print("no cluster running here", file=sys.stderr)
        return
    pid = state.get("supervisor")
    if _alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 120
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.5)
    else:  # the supervisor died (kill -9): stop the nodes it left
        RabbitCluster.attach(state["rabbitmq"]).stop()
    shutil.rmtree(directory, ignore_errors=True)
    print("stopped", file=sys.stderr)


def status(directory):
    state = _read_state(directory)
    if not state or not _alive(state.get("supervisor")):
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
    if args.command == "_serve":
        serve(directory, ports, args.redis_port)
    elif args.command == "up":
        up(directory, ports, args.redis_port, args.export)
    elif args.command == "down":
        down(directory)
    else:
        return status(directory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
