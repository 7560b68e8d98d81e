"""The whole system with each node on a host of its own (devstack.netns), for fault drills: hosts
n1, n2, n3 each hold a RabbitMQ node (rabbit@n1.., clustered, vhost `travel` with quorum queues,
pause_minority, net_ticktime 10), a Redis data node (the first primary on n1) and a sentinel;
w1, w2 each run `nameko run` of the three services; ga serves the ASGI gateway, gw the WSGI one.

    with HostStack(directory) as hosts:          # about a minute on 2 cores: RabbitMQ boots
        hosts.gateway_urls["asgi"]                # http://10.213.0.16:8000
        hosts.faults.partition("n1", ["n2", "n3", "w1", "w2", "ga", "gw"])
        hosts.faults.freeze(hosts.rabbit["n2"].pid)

    python -m devstack.hosts up|down|status [--dir DIR]   (scripts/hosts)

Processes find each other by host name (the hosts files); the root namespace, where the load runs,
uses addresses. Every file and log lands in `directory`. Run as root.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from devstack import supervisor
from devstack.isolation import clean_environment
from devstack.layout import SERVICE_NAMES
from devstack.netfaults import NetFaults
from devstack.netns import HostNet, namespace
from devstack.processes import ROOT, wait_for_services
from devstack.rabbitmq_cluster import RabbitCluster, RabbitNode
from devstack.redis_sentinel import RedisSentinelSet
from devstack.stack import Stack, Started

NODE_HOSTS = ("n1", "n2", "n3")  # RabbitMQ, Redis and a sentinel on each
WORKER_HOSTS = ("w1", "w2")
GATEWAY_HOSTS = {"asgi": "ga", "wsgi": "gw"}
VHOST = "travel"
AMQP_PORT, DIST_PORT, GATEWAY_PORT = 5672, 25672, 8000
PARTITION_HANDLING = "pause_minority"
NET_TICKTIME = 5
DEFAULT_DIR = ROOT / ".run" / "hosts"
KEY_PREFIX = "travel:"


class HostStack(Started):
    """The hosts, and on them RabbitMQ, Redis with Sentinel, workers and gateways; started in
    `__enter__`, everything killed and every host removed in `__exit__`. `worker_extra` and
    `gateway_extra`: more environment for them. Sentinel's `down_after_ms` and `failover_timeout_ms`
    are its settings."""

    def __init__(
        self,
        directory,
        *,
        down_after_ms=5000,
        failover_timeout_ms=10000,
        workers=WORKER_HOSTS,
        gateways=GATEWAY_HOSTS,
        worker_extra=None,
        gateway_extra=None,
        ready_timeout=90,
        partition_handling=PARTITION_HANDLING,
    ):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o755)  # the rabbitmq user reaches its nodes' directories through it
        self.worker_hosts, self.gateway_hosts = list(workers), dict(gateways)
        self.net = HostNet([*NODE_HOSTS, *self.worker_hosts, *self.gateway_hosts.values()])
        self.faults = NetFaults(self.net)
        self.ready_timeout = ready_timeout
        self.rabbit = {
            host: RabbitNode(
                f"rabbit@{host}",
                AMQP_PORT,
                self.dir / "rabbitmq" / host,
                dist_port=DIST_PORT,
                netns=namespace(host),
                host=self.net.address(host),
                extra_config=(f"cluster_partition_handling = {partition_handling}", f"net_ticktime = {NET_TICKTIME}"),
            )
            for host in NODE_HOSTS
        }
        self.rabbit_cluster = RabbitCluster(
            nodes=list(self.rabbit.values()), base_dir=self.dir / "rabbitmq", vhost=VHOST
        )
        self.redis = RedisSentinelSet(
            self.dir / "redis",
            places=[(namespace(host), self.net.address(host)) for host in NODE_HOSTS],
            down_after_ms=down_after_ms,
            failover_timeout_ms=failover_timeout_ms,
        )
        self.redis_hosts = dict(zip([*self.redis.nodes, *self.redis.sentinels], NODE_HOSTS * 2, strict=True))
        self.worker_env = {
            **clean_environment(),
            "AMQP_URI": self.amqp_uri(),
            "REDIS_URI": self.redis_uri(),
            "REDIS_KEY_PREFIX": KEY_PREFIX,
            "REDIS_WAIT_REPLICAS": "2",  # the Sentinel layouts' default: a split brain lost no write (docs/faults.md)
            "PYTHONUNBUFFERED": "1",
            **{key: str(value) for key, value in (worker_extra or {}).items()},
        }
        self.gateway_env = {
            **self.worker_env,
            "THREADS": "8",
            "LOG_LEVEL": "WARNING",
            **{key: str(value) for key, value in (gateway_extra or {}).items()},
        }
        self.key_prefix = KEY_PREFIX
        self.stack = None

    @classmethod
    def attach(cls, directory, **options):
        """The HostStack another process started in `directory` (for `status`): its nodes as they run."""
        made = cls(directory, **options)
        made.redis = RedisSentinelSet.attach(made.dir / "redis")
        return made

    # -- addresses ----------------------------------------------------------------------------

    def amqp_uri(self, by_address=False):
        """The AMQP_URI listing the three nodes: by host name (for the hosts), or by address (for
        the root namespace, which has no hosts file of its own)."""
        return ";".join(node.uri_for(VHOST, host=None if by_address else host) for host, node in self.rabbit.items())

    def redis_uri(self, by_address=False):
        """The REDIS_URI, Sentinel's form (workers/common/redis_clients.py), as amqp_uri."""
        if by_address:
            return self.redis.uri
        sentinels = ",".join(f"{self.redis_hosts[name]}:{s.port}" for name, s in self.redis.sentinels.items())
        return f"redis+sentinel://{sentinels}/{self.redis.service_name}/0"

    @property
    def gateway_urls(self):
        """{kind: base URL} of the gateways, by address."""
        return {gateway.kind: gateway.url for gateway in self.stack.gateways} if self.stack else {}

    @property
    def workers(self):
        """{host: ChildProcess} of the `nameko run` processes."""
        return dict(zip(self.worker_hosts, self.stack.workers, strict=True)) if self.stack else {}

    # -- life cycle ---------------------------------------------------------------------------

    def start(self):
        self.net.up()
        self.redis.start()
        self.rabbit_cluster.start()
        log_dir = self.dir / "logs"
        log_dir.mkdir(exist_ok=True)
        self.stack = Stack(
            self.worker_env,
            self.gateway_env,
            instances=0,  # each worker is added on its own host below
            ready_timeout=self.ready_timeout,
            gateway_processes=1,
            kill_workers=True,
            log_dir=log_dir,
        )
        for host in self.worker_hosts:
            self.stack.add_worker(name=f"workers-{host}", netns=namespace(host))
        amqp = self.amqp_uri(by_address=True)
        wait_for_services(amqp, SERVICE_NAMES, self.stack.workers, self.ready_timeout)
        for kind, host in self.gateway_hosts.items():
            self.stack.add_gateway(kind, self.net.address(host), GATEWAY_PORT, netns=namespace(host))

    def close(self):
        """Workers and gateways first (their logs flushed), then every process left on the hosts."""
        self.faults.thaw_all()  # a frozen gateway would take its whole stop timeout
        if self.stack is not None:
            self.stack.close()
        self.net.down()

    # -- the nodes, as they are now -----------------------------------------------------------

    def restart_rabbit(self, host, timeout=90):
        """Boot `host`'s RabbitMQ node again (after a kill) on its data; until the cluster counts it."""
        self.rabbit_cluster.restart(NODE_HOSTS.index(host), timeout)

    def leaders(self):
        """{queue: host of the RabbitMQ node leading it} for the vhost's queues that have a leader,
        as the first running node that answers says; {} when none does."""
        for node in self.rabbit.values():
            if not node.running:
                continue
            try:
                out = node.ctl("list_queues", "-p", VHOST, "name", "leader", "--formatter", "json", timeout=30)
                rows = json.loads(out)
            except (RuntimeError, ValueError, subprocess.TimeoutExpired):
                continue
            return {
                row["name"]: str(row["leader"]).split("@", 1)[1]
                for row in rows
                if str(row.get("leader") or "").startswith("rabbit@")
            }
        return {}

    def leader_host(self, queue="rpc-airports_service"):
        """The host of the RabbitMQ node that leads `queue` (a quorum queue) now: where a fault
        hurts most. n1 when no node says."""
        return self.leaders().get(queue, NODE_HOSTS[0])

    def move_leaders(self, host, services=SERVICE_NAMES):
        """Make `host`'s RabbitMQ node lead the quorum queue of each of `services` (Ra's leadership
        transfer: rabbitmqctl has no command for it in 3.10), so that a drill can put them where
        a fault hurts most. Raises RuntimeError if one did not move."""
        node = next(node for each, node in self.rabbit.items() if each != host and node.running)
        for service in services:
            queue = f"rpc-{service}"
            found = (
                f'{{ok, Q}} = rabbit_amqqueue:lookup(rabbit_misc:r(<<"{VHOST}">>, queue, <<"{queue}">>)), '
                f"Leader = amqqueue:get_pid(Q), {{Name, _}} = Leader, "
                f"ra:transfer_leadership(Leader, {{Name, 'rabbit@{host}'}})."
            )
            answer = node.ctl("eval", found, timeout=30).strip()
            if answer not in ("ok", "already_leader"):
                raise RuntimeError(f"moving the leader of {queue} to {host}: {answer}")
        deadline = time.monotonic() + 30
        while any(self.leaders().get(f"rpc-{service}") != host for service in services):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the queues' leaders did not move to {host}")
            time.sleep(0.5)

    def kill_rabbit(self, host):
        """kill -9 of `host`'s RabbitMQ node."""
        self.rabbit_cluster.kill(NODE_HOSTS.index(host))

    def wait_settled(self, timeout):
        """Until every RabbitMQ node runs in the cluster and the Sentinel set is healthy again, with
        nothing restarted: True, or False after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        try:
            self.rabbit_cluster.wait_running(timeout)
            self.redis.wait_healthy(max(1.0, deadline - time.monotonic()))
        except (TimeoutError, RuntimeError):
            return False
        return True

    def repair_rabbit(self, timeout=120):
        """What RabbitMQ's docs prescribe for a split left after a heal (pause_minority does nothing
        for a node that was suspended): restart the app of each node that sees fewer nodes running
        than the others, then wait for the cluster and its queues."""
        views = {host: set(self.rabbit_cluster.running_nodes(via=node)) for host, node in self.rabbit.items()}
        widest = max(len(view) for view in views.values())
        for host, view in views.items():
            if len(view) < widest:
                self.rabbit[host].ctl("stop_app", timeout=60, check=False)
                self.rabbit[host].ctl("start_app", timeout=timeout, check=False)
        self.rabbit_cluster.wait_running(timeout)

    @property
    def redis_ports(self):
        """The TCP ports of Redis's data nodes and sentinels."""
        return sorted({process.port for process in [*self.redis.nodes.values(), *self.redis.sentinels.values()]})

    def redis_primary(self):
        """The host whose Redis node most sentinels call primary now (None while no two agree):
        not the first sentinel's word, which may be a cut-off minority's."""
        return self.redis_hosts.get(self.redis.primary(majority=True))

    def redis_views(self):
        """{sentinel's host: the host it calls primary}: each side's view, in a partition."""
        views = self.redis.primaries()
        return {self.redis_hosts[name]: self.redis_hosts.get(primary) for name, primary in views.items()}

    def restart_redis(self, host, sentinel=False):
        """Start `host`'s Redis data node (as a replica of the current primary) or its sentinel
        again, after a kill."""
        processes = self.redis.sentinels if sentinel else self.redis.nodes
        self.redis.restart(self._redis_name(host, processes))

    def redis_pid(self, host):
        return self._redis_process(host, self.redis.nodes).pid

    def sentinel_pid(self, host):
        return self._redis_process(host, self.redis.sentinels).pid

    def _redis_process(self, host, processes):
        return processes[self._redis_name(host, processes)]

    def _redis_name(self, host, processes):
        return next(name for name in processes if self.redis_hosts[name] == host)

    def status(self):
        """What runs where, for `scripts/hosts status` and a drill's report."""
        return {
            "hosts": self.net.status(),
            "rabbitmq": {
                "nodes": {host: {"name": n.name, "pid": n.pid} for host, n in self.rabbit.items()},
                "running": self.rabbit_cluster.running_nodes(),
            },
            "redis": {
                "primary": self.redis_primary(),
                "sentinel_views": self.redis_views(),
                "pids": {self.redis_hosts[name]: p.pid for name, p in self.redis.nodes.items()},
                "sentinel_pids": {self.redis_hosts[name]: p.pid for name, p in self.redis.sentinels.items()},
            },
            "faults": self.faults.active(),
        }


# -- python -m devstack.hosts up|down|status --------------------------------------------------


def serve(directory, down_after_ms):
    """The supervisor: start the hosts, write the state, wait for SIGTERM, stop everything."""
    stopping = supervisor.stop_requested()
    state = {"supervisor": os.getpid(), "ready": False, "down_after_ms": down_after_ms}
    started = time.monotonic()
    try:
        with HostStack(directory, down_after_ms=down_after_ms) as hosts:
            state.update(
                boot_seconds=round(time.monotonic() - started, 1),
                gateway_urls=hosts.gateway_urls,
                amqp_uri=hosts.amqp_uri(by_address=True),
                redis_uri=hosts.redis_uri(by_address=True),
                worker_amqp_uri=hosts.amqp_uri(),
                worker_redis_uri=hosts.redis_uri(),
            )
            supervisor.serve_until_stopped(directory, state, stopping)
    except BaseException as exc:
        supervisor.record_failure(directory, state, exc)
        raise
    finally:
        if not state.get("error"):
            (directory / supervisor.STATE).unlink(missing_ok=True)


def up(directory, down_after_ms, timeout=400):
    state = supervisor.launch("devstack.hosts", directory, ["--down-after-ms", down_after_ms], "the hosts", timeout)
    print(f"up in {state['boot_seconds']} s", file=sys.stderr)
    _print_addresses(state)


def _print_addresses(state):
    for kind, url in state["gateway_urls"].items():
        print(f"{kind.upper()}_URL={url}")
    for name in ("amqp_uri", "redis_uri", "worker_amqp_uri", "worker_redis_uri"):
        print(f"{name.upper()}={state[name]}")


def down(directory):
    """Ask the supervisor to stop; if it is gone (a crash), remove what it left, by name."""
    supervisor.stop(supervisor.read_state(directory))
    HostNet().down()
    (directory / supervisor.STATE).unlink(missing_ok=True)
    print("down", file=sys.stderr)


def status(directory):
    state = supervisor.read_state(directory)
    if not supervisor.running(state):
        left = HostNet().status()
        print(f"down{' (hosts left by a dead run: scripts/hosts down removes them)' if left else ''}")
        return 1
    hosts = HostStack.attach(directory, down_after_ms=state["down_after_ms"])
    print(json.dumps(hosts.status(), indent=2))
    _print_addresses(state)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="scripts/hosts", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "down", "status", "_serve"])
    parser.add_argument("--dir", type=Path, default=Path(os.environ.get("HOSTS_DIR", DEFAULT_DIR)))
    parser.add_argument("--down-after-ms", type=int, default=5000, help="Sentinel's down-after-milliseconds")
    args = parser.parse_args(argv)
    directory = args.dir.resolve()
    return supervisor.dispatch(
        args.command,
        {
            "_serve": lambda: serve(directory, args.down_after_ms),
            "up": lambda: up(directory, args.down_after_ms),
            "down": lambda: down(directory),
            "status": lambda: status(directory),
        },
    )


if __name__ == "__main__":
    sys.exit(main())
