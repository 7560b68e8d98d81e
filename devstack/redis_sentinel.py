"""A Redis Sentinel set on this machine, from the installed redis-server: a primary, two replicas and
three sentinels (`redis-server --sentinel`) monitoring the service `travel`, on free or given ports,
each with its files in a directory of its own under `base_dir`. Failover is fast, for tests and
drills (a primary unreachable for 1 s is down). Every process is stopped by its own pid.

    python -m devstack.redis_sentinel up [--dir DIR] [--primary-port P]   # prints REDIS_URI=...
    python -m devstack.redis_sentinel kill-primary --dir DIR              # kill -9 the current primary
    python -m devstack.redis_sentinel restart --dir DIR [NODE]            # back, as a replica
    python -m devstack.redis_sentinel down --dir DIR

From Python: `RedisSentinelSet(base_dir).start()`, `.uri`, `.kill_primary()`, `.restart(node)`, `.stop()`.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import redis

from devstack.isolation import free_port, wait_port
from devstack.netns import in_netns

SERVICE_NAME = "travel"
HOST = "127.0.0.1"
STATE_FILE = "sentinel-set.json"


def wait_until(condition, timeout, what, interval=0.1):
    """Until `condition()` is true (a Redis connection error or timeout counts as not yet), else
    TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout}s")
        time.sleep(interval)


class RedisProcess:
    """One redis-server (or, with `sentinel`, redis-sentinel) from a config file in `directory`.

    `settings` are config lines as tuples, `("port", 6380)`; written anew at every start (a sentinel
    rewrites its file while it runs: what it learnt survives a restart with the same settings).
    The pid is kept (and in the set's state file), so that another process can stop it: before
    signalling a pid it did not start, it checks the pid is still this node (see `_is_ours`).
    `netns`: the network namespace it runs in (devstack.netns); `host`: the address it listens on."""

    def __init__(
        self, name, port, directory, settings=(), *, sentinel=False, pid=None, tls_port=False, netns=None, host=HOST
    ):
        self.name, self.port, self.dir = name, port, Path(directory)
        self.netns, self.host = netns, host
        self.settings = list(settings)
        self.sentinel = sentinel
        self.tls_port = tls_port  # `port` is the TLS port: nothing answers plain TCP to check for
        self.pid = pid
        self.popen = None

    @property
    def config_path(self):
        return self.dir / ("sentinel.conf" if self.sentinel else "redis.conf")

    @property
    def log_path(self):
        return self.dir / "redis.log"

    def write_config(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        lines = [("dir", str(self.dir)), ("logfile", str(self.log_path)), ("daemonize", "no"), *self.settings]
        self.config_path.write_text("".join(" ".join(_quoted(v) for v in line) + "\n" for line in lines))

    def start(self, timeout=15, keep_config=False):
        """`keep_config`: a sentinel restarting keeps the file it rewrote (what it learnt)."""
        if not (keep_config and self.config_path.exists()):
            self.write_config()
        argv = ["redis-server", str(self.config_path)] + (["--sentinel"] if self.sentinel else [])
        self.popen = subprocess.Popen(
            in_netns(self.netns, argv),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            cwd=self.dir,
        )
        self.pid = self.popen.pid
        try:
            wait_port(self.port, timeout, host=self.host)
        except TimeoutError:
            raise RuntimeError(f"{self.name} did not start; see {self.log_path}") from None
        return self

    def running(self):
        if self.popen is not None:
            return self.popen.poll() is None
        return self.pid is not None and self._is_ours()

    def _is_ours(self):
        """Whether `pid` is still this node. Not by its command line: Redis overwrites it with
        `redis-server host:port`. By its working directory, the node's own (started there, and
        its `dir`), and by not being a zombie."""
        try:
            process = psutil.Process(self.pid)
            return process.cwd() == str(self.dir) and process.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def signal(self, sig):
        if self.running():
            os.kill(self.pid, sig)

    def wait(self, timeout=15):
        if self.popen is not None:
            self.popen.wait(timeout)
            return
        wait_until(lambda: not self.running(), timeout, f"{self.name} (pid {self.pid}) did not exit")

    def kill(self):
        """SIGKILL: no last write to its append-only file, no goodbye to its replicas."""
        self.signal(signal.SIGKILL)
        self.wait()

    def stop(self):
        """SIGTERM: a clean shutdown (Redis syncs its append-only file first)."""
        self.signal(signal.SIGTERM)
        self.wait()


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


def _quoted(value):
    text = str(value)
    return '""' if text == "" else text


def data_settings(port, password=None, replica_of=None, durable=True, host=HOST):
    """A data node on host:port: AOF with fsync every second (as the compose file runs Redis), fast
    resyncs. `replica_of`: the primary's port on HOST, or its (host, port)."""
    settings = [("bind", host), ("port", port), ("save", "")]
    if host != HOST:  # a host of its own (devstack.netns): its peers are not on loopback
        settings.append(("protected-mode", "no"))
    if durable:
        settings += [("appendonly", "yes"), ("appendfsync", "everysec")]
    # A replica that comes back syncs at once rather than after the default 5 s of waiting for others.
    settings += [("repl-diskless-sync", "yes"), ("repl-diskless-sync-delay", 0)]
    if password:
        settings += [("requirepass", password), ("masterauth", password)]
    if replica_of:
        settings.append(("replicaof", *(replica_of if isinstance(replica_of, tuple) else (HOST, replica_of))))
    return settings


class RedisSentinelSet:
    """A primary, two replicas and three sentinels (quorum 2) in `base_dir`, on the ports given or
    free ones. Nodes are named `redis-1` (the first primary), `redis-2`, `redis-3`, and
    `sentinel-1`..`sentinel-3`; which data node is primary changes with every failover.
    `places`: three (network namespace, address) pairs, data node and sentinel n on the n-th (each
    on Redis's own ports 6379 and 26379 unless given), instead of all on 127.0.0.1."""

    def __init__(
        self,
        base_dir,
        primary_port=None,
        replica_ports=None,
        sentinel_ports=None,
        *,
        password=None,
        service_name=SERVICE_NAME,
        down_after_ms=1000,
        failover_timeout_ms=3000,
        places=None,
    ):
        self.base_dir = Path(base_dir)
        self.password, self.service_name = password, service_name
        self.down_after_ms, self.failover_timeout_ms = down_after_ms, failover_timeout_ms
        self.places = [tuple(place) for place in places] if places else None
        data_port, sentinel_port = (lambda: 6379, lambda: 26379) if places else (free_port, free_port)
        data_ports = [primary_port or data_port(), *(replica_ports or (data_port(), data_port()))]
        self.sentinel_ports = list(sentinel_ports or (sentinel_port(), sentinel_port(), sentinel_port()))
        where = self.places or [(None, HOST)] * 3
        self.nodes = {
            f"redis-{n}": RedisProcess(
                f"redis-{n}", port, self.base_dir / f"redis-{n}", netns=where[n - 1][0], host=where[n - 1][1]
            )
            for n, port in enumerate(data_ports, 1)
        }
        self.sentinels = {
            f"sentinel-{n}": RedisProcess(
                f"sentinel-{n}",
                port,
                self.base_dir / f"sentinel-{n}",
                sentinel=True,
                netns=where[n - 1][0],
                host=where[n - 1][1],
            )
            for n, port in enumerate(self.sentinel_ports, 1)
        }
        first = self.nodes["redis-1"]
        for n, node in enumerate(self.nodes.values()):
            node.settings = data_settings(node.port, password, (first.host, first.port) if n else None, host=node.host)
        for sentinel in self.sentinels.values():
            sentinel.settings = self._sentinel_settings(sentinel, first)

    def _sentinel_settings(self, sentinel, primary):
        name = self.service_name
        settings = [
            ("bind", sentinel.host),
            ("port", sentinel.port),
            ("sentinel", "monitor", name, primary.host, primary.port, 2),
            ("sentinel", "down-after-milliseconds", name, self.down_after_ms),
            ("sentinel", "failover-timeout", name, self.failover_timeout_ms),
            ("sentinel", "parallel-syncs", name, 1),
        ]
        if self.password:
            settings.append(("sentinel", "auth-pass", name, self.password))
        return settings

    # -- the REDIS_URI ------------------------------------------------------------------------

    @property
    def uri(self):
        auth = f":{self.password}@" if self.password else ""
        hosts = ",".join(f"{sentinel.host}:{sentinel.port}" for sentinel in self.sentinels.values())
        return f"redis+sentinel://{auth}{hosts}/{self.service_name}/0"

    # -- life cycle ---------------------------------------------------------------------------

    def start(self, timeout=30):
        """Start every process and return once the replicas are in sync and each sentinel knows
        the other two and both replicas (a failover needs all of that)."""
        try:
            for node in self.nodes.values():
                node.start()
            for sentinel in self.sentinels.values():
                sentinel.start()
            self.wait_healthy(timeout)
        except BaseException:
            self.stop()
            raise
        self.save_state()
        return self

    def configure(self, settings):
        """CONFIG SET each of `settings` ({name: value}) on every data node, now (not kept across a
        restart: a restarted node takes its config file's)."""
        for name in self.nodes:
            client = self.client(name)
            for key, value in settings.items():
                client.config_set(key, value)

    def wait_healthy(self, timeout=30):
        """Until a primary has two replicas in sync and every sentinel sees them and the others."""

        def healthy():
            primary = self.primary()
            if primary is None or len(self._in_sync_replicas(primary)) < len(self.nodes) - 1:
                return False
            for sentinel in self.sentinels.values():
                state = self.sentinel_view(sentinel)
                named = (state["ip"], int(state["port"]))
                if named != (self.nodes[primary].host, self.nodes[primary].port) or "down" in state["flags"]:
                    return False
                others, replicas = int(state["num-other-sentinels"]), int(state["num-slaves"])
                if others < len(self.sentinels) - 1 or replicas < len(self.nodes) - 1:
                    return False
            return True

        wait_until(healthy, timeout, "the sentinel set did not become healthy")

    def _in_sync_replicas(self, primary):
        info = self.client(primary).info("replication")
        return [
            value
            for key, value in info.items()
            if key.startswith("slave") and isinstance(value, dict) and value.get("state") == "online"
        ]

    def stop(self):
        """The sentinels first (so that they start no failover while the data nodes go), then the nodes."""
        for process in [*self.sentinels.values(), *self.nodes.values()]:
            try:
                process.stop()
            except (OSError, TimeoutError, subprocess.TimeoutExpired):
                process.kill()
        state = self.base_dir / STATE_FILE
        state.unlink(missing_ok=True)

    # -- faults -------------------------------------------------------------------------------

    def primary(self, majority=False):
        """The data node the sentinels currently call primary: the first sentinel's that answers,
        or with `majority` the one most of them name (None if no two agree: sentinels cut off
        from the others, on the minority side of a partition, may still name the old one)."""
        views = self.primaries(stop_at_first=not majority)
        named = [name for name in views.values() if name is not None]
        if not majority:
            return named[0] if named else None
        best = max(set(named), key=named.count, default=None)
        return best if named.count(best) > len(self.sentinels) // 2 else None

    def primaries(self, stop_at_first=False):
        """{sentinel: the data node it calls primary, or None if it does not answer}."""
        by_address = {(node.host, node.port): name for name, node in self.nodes.items()}
        views = {}
        for name, sentinel in self.sentinels.items():
            try:
                address = self._sentinel_client(sentinel).execute_command(
                    "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.service_name
                )
            except (redis.ConnectionError, redis.TimeoutError):
                address = None
            views[name] = by_address.get((_text(address[0]), int(address[1]))) if address else None
            if stop_at_first and views[name] is not None:
                break
        return views

    def kill_primary(self):
        """kill -9 the current primary; its name."""
        name = self.primary()
        if name is None:
            raise RuntimeError("no sentinel names a primary")
        self.nodes[name].kill()
        self.save_state()
        return name

    def replicas(self):
        """The data nodes that are not the current primary."""
        primary = self.primary()
        return [name for name in self.nodes if name != primary]

    def _process(self, name):
        return self.nodes.get(name) or self.sentinels[name]

    def wait_for_failover(self, old_primary, timeout=30):
        """Until the sentinels name another primary, and it accepts writes; its name."""

        def promoted():
            name = self.primary()
            return name not in (None, old_primary) and self.client(name).info("replication")["role"] == "master"

        wait_until(promoted, timeout, f"no failover away from {old_primary}")
        return self.primary()

    def restart(self, name):
        """Start a stopped node again. A data node comes back as a replica of the current primary
        (it is started so, rather than as the primary it was until a sentinel turns it): what it
        wrote and no replica got is dropped by the resync, as the failover already dropped it."""
        process = self._process(name)
        if process.running():
            raise RuntimeError(f"{name} is running")
        if name in self.nodes:
            primary = self.primary()
            current = self.nodes.get(primary) if primary != name else None
            replica_of = (current.host, current.port) if current else None
            process.settings = data_settings(process.port, self.password, replica_of, host=process.host)
        process.start(keep_config=name in self.sentinels)
        self.save_state()
        return process

    # -- clients ------------------------------------------------------------------------------

    def client(self, name, **options):
        node = self.nodes[name]
        return redis.Redis(node.host, node.port, password=self.password, socket_timeout=2, **options)

    def sentinel_view(self, sentinel):
        """What a sentinel says of the primary (SENTINEL MASTER: port, flags, num-slaves...)."""
        # Raw, as redis-py 6.4's sentinel_* methods fail on a plain client (they pass `once`).
        flat = self._sentinel_client(sentinel).execute_command("SENTINEL", "MASTER", self.service_name)
        return {_text(flat[i]): _text(flat[i + 1]) for i in range(0, len(flat), 2)}

    @staticmethod
    def _sentinel_client(sentinel):
        return redis.Redis(sentinel.host, sentinel.port, socket_timeout=1, socket_connect_timeout=1)

    # -- the state file, for the CLI ----------------------------------------------------------

    def save_state(self):
        state = {
            "service_name": self.service_name,
            "password": self.password,
            "down_after_ms": self.down_after_ms,
            "failover_timeout_ms": self.failover_timeout_ms,
            "places": self.places,
            "nodes": {name: {"port": p.port, "pid": p.pid} for name, p in self.nodes.items()},
            "sentinels": {name: {"port": p.port, "pid": p.pid} for name, p in self.sentinels.items()},
        }
        path = self.base_dir / STATE_FILE
        path.write_text(json.dumps(state, indent=2))
        path.chmod(0o600)  # it holds the password

    @classmethod
    def attach(cls, base_dir):
        """The set started (by another process) in `base_dir`, from its state file."""
        state = json.loads((Path(base_dir) / STATE_FILE).read_text())
        nodes, sentinels = state["nodes"], state["sentinels"]
        made = cls(
            base_dir,
            *(n["port"] for n in list(nodes.values())[:1]),
            [n["port"] for n in list(nodes.values())[1:]],
            [s["port"] for s in sentinels.values()],
            password=state["password"],
            service_name=state["service_name"],
            down_after_ms=state["down_after_ms"],
            failover_timeout_ms=state["failover_timeout_ms"],
            places=state.get("places"),
        )
        for name, entry in [*nodes.items(), *sentinels.items()]:
            (made.nodes.get(name) or made.sentinels[name]).pid = entry["pid"]
        return made


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m devstack.redis_sentinel", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the set and print the REDIS_URI to use")
    up.add_argument("--dir", help="where its files go (default: a new temporary directory)")
    up.add_argument("--primary-port", type=int)
    up.add_argument("--replica-ports", type=lambda text: [int(p) for p in text.split(",")])
    up.add_argument("--sentinel-ports", type=lambda text: [int(p) for p in text.split(",")])
    up.add_argument("--password")
    for name, text in [
        ("down", "stop every process of the set"),
        ("kill-primary", "kill -9 the current primary"),
        ("uri", "print the REDIS_URI"),
        ("restart", "start a stopped node again (a data node as a replica)"),
    ]:
        command = commands.add_parser(name, help=text)
        command.add_argument("--dir", required=True)
        if name == "restart":
            command.add_argument("node", nargs="?", help="redis-1..3 or sentinel-1..3 (default: every stopped one)")
    args = parser.parse_args(argv)

    if args.command == "up":
        base_dir = Path(args.dir or tempfile.mkdtemp(prefix="redis-sentinel-"))
        base_dir.mkdir(parents=True, exist_ok=True)
        made = RedisSentinelSet(
            base_dir, args.primary_port, args.replica_ports, args.sentinel_ports, password=args.password
        ).start()
        print(f"REDIS_URI={made.uri}")
        print(f"# files in {base_dir}; stop with: python -m devstack.redis_sentinel down --dir {base_dir}")
        return 0
    made = RedisSentinelSet.attach(args.dir)
    if args.command == "down":
        made.stop()
    elif args.command == "kill-primary":
        print(made.kill_primary())
    elif args.command == "restart":
        stopped = [name for name, p in {**made.nodes, **made.sentinels}.items() if not p.running()]
        for name in [args.node] if args.node else stopped:
            made.restart(name)
    else:
        print(made.uri)
    return 0


if __name__ == "__main__":
    sys.exit(main())
