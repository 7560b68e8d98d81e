"""RabbitMQ nodes of this machine's installation (`rabbitmq-server`), each with its own node name,
ports and data directory, optionally joined into a cluster with a vhost whose default queue type
is quorum. The machine's own broker is never touched: nodes are found and stopped by their own
names and process ids.

    cluster = RabbitCluster(3).start()      # three nodes, clustered, vhost "travel" (quorum)
    cluster.uri                             # amqp://guest:guest@127.0.0.1:P1/travel;amqp://...
    cluster.kill(0)                         # kill -9 of node 0's Erlang VM
    cluster.nodes[0].start()                # it comes back and rejoins by itself
    cluster.stop()

rabbitmq-server drops to the `rabbitmq` user: run as root or as that user.
"""

import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from devstack.isolation import free_port, wait_port
from devstack.netns import in_netns

START_TIMEOUT = 90  # seconds for a node to boot on a busy 2-core machine


def _chown_tree(path, user="rabbitmq"):
    if os.geteuid() != 0:  # running as the rabbitmq user: it owns what it made
        return
    shutil.chown(path, user, user)
    for child in Path(path).rglob("*"):
        shutil.chown(child, user, user)


class RabbitNode:
    """One node: its own name, AMQP port (AMQPS too with `tls`: an object with `ca`, `cert` and `key`
    paths), Erlang distribution port and data directory (under `base_dir`, else a new temporary
    one). start() boots it (again after a stop or kill, on the same data); kill() is kill -9 of
    its Erlang VM, by the pid the node wrote.

    `netns`: the network namespace (devstack.netns) its server and CLI tools run in, under `ip netns
    exec`, with an environment file of its own instead of the machine's (which pins distribution
    to loopback); `host`: its address. `extra_config`: more rabbitmq.conf lines."""

    def __init__(
        self,
        name=None,
        port=None,
        base_dir=None,
        tls=None,
        dist_port=None,
        *,
        netns=None,
        host="127.0.0.1",
        extra_config=(),
    ):
        self.name = name or f"rabbit-node-{secrets.token_hex(4)}@localhost"
        self.port = port or free_port()
        self.dist_port = dist_port or free_port()
        self.netns, self.host = netns, host
        self.tls = tls
        self.tls_port = free_port() if tls else None
        self._own_dir = base_dir is None
        self.dir = Path(base_dir or tempfile.mkdtemp(prefix="rabbit-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        for sub in ("mnesia", "log"):
            (self.dir / sub).mkdir(exist_ok=True)
        (self.dir / "enabled_plugins").write_text("[].\n")
        config = [f"listeners.tcp.default = {self.port}", "loopback_users = none"]
        if tls:
            config += [
                f"listeners.ssl.default = {self.tls_port}",
                f"ssl_options.cacertfile = {tls.ca}",
                f"ssl_options.certfile = {tls.cert}",
                f"ssl_options.keyfile = {tls.key}",
                "ssl_options.verify = verify_none",
                "ssl_options.fail_if_no_peer_cert = false",
            ]
        config += list(extra_config)
        if netns:  # the machine's rabbitmq-env.conf is for its own node: NODENAME, loopback-only ERL_FLAGS
            (self.dir / "rabbitmq-env.conf").write_text("# this node's own: nothing from the machine's file\n")
        (self.dir / "rabbitmq.conf").write_text("\n".join(config) + "\n")
        _chown_tree(self.dir)
        self.dir.chmod(0o755)

    def uri_for(self, vhost="/", user="guest", password="guest", host=None):
        path = "" if vhost == "/" else vhost
        return f"amqp://{user}:{password}@{host or self.host}:{self.port}/{path}"

    @property
    def uri(self):
        return self.uri_for()

    @property
    def tls_uri(self):
        return f"amqps://guest:guest@localhost:{self.tls_port}/"

    def env(self):
        base = os.environ
        if self.netns:
            base = {k: v for k, v in base.items() if k not in ("ERL_FLAGS", "ERL_EPMD_ADDRESS")}
            base["RABBITMQ_CONF_ENV_FILE"] = str(self.dir / "rabbitmq-env.conf")
        return {
            **base,
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(self.dir / "pid"),
        }

    def ctl(self, *args, timeout=120, check=True, tool="rabbitmqctl"):
        """`rabbitmqctl -n <this node> ...` (or another of the CLI tools): its output."""
        done = subprocess.run(
            in_netns(self.netns, [tool, "-n", self.name, *args]),
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and done.returncode:
            raise RuntimeError(f"{tool} {' '.join(args)} on {self.name}: {done.stderr.strip() or done.stdout}")
        return done.stdout

    def quorum_critical(self):
        """Whether stopping this node now would leave a quorum queue without its majority (a member
        elsewhere still down or catching up): `rabbitmq-queues check_if_node_is_quorum_critical`."""
        try:
            self.ctl("check_if_node_is_quorum_critical", tool="rabbitmq-queues", timeout=60)
        except (RuntimeError, subprocess.TimeoutExpired):
            return True
        return False

    def launch(self):
        """Boot the node in the background; wait_started() waits for it."""
        (self.dir / "pid").unlink(missing_ok=True)
        subprocess.run(
            in_netns(self.netns, ["rabbitmq-server", "-detached"]), env=self.env(), check=True, capture_output=True
        )
        return self

    def wait_started(self, timeout=START_TIMEOUT):
        try:
            wait_port(self.port, timeout, host=self.host)
            if self.tls:
                wait_port(self.tls_port, 30, host=self.host)
        except TimeoutError:
            raise RuntimeError(
                f"RabbitMQ node {self.name} did not start in {timeout}s; its log is in {self.dir / 'log'}"
            ) from None
        return self

    def start(self, timeout=START_TIMEOUT):
        return self.launch().wait_started(timeout)

    @property
    def pid(self):
        """The process id of the node's Erlang VM, or None when it is not running."""
        try:
            pid = int((self.dir / "pid").read_text().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    @property
    def running(self):
        return self.pid is not None

    def kill(self):
        """kill -9 of the node's VM (what a crash or a power cut does); waits for its port to close."""
        pid = self.pid
        if pid is None:
            return
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and self.pid is not None:
            time.sleep(0.05)
        wait_port(self.port, 15, up=False, host=self.host)

    def stop(self, timeout=60):
        """A clean stop (rabbitmqctl stop); kill -9 if it does not go in time."""
        if not self.running:
            return
        try:
            self.ctl("stop", timeout=timeout, check=False)
            wait_port(self.port, 30, up=False, host=self.host)
        except (subprocess.TimeoutExpired, TimeoutError):
            self.kill()

    def close(self):
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


class RabbitCluster:
    """`size` RabbitNodes joined into one cluster, with `vhost` (default queue type quorum) on which
    guest may do everything. `ports`: their AMQP ports (free ones by default). `base_dir`: where
    their data lives (a new temporary directory by default, removed by stop()). `nodes`: RabbitNodes
    made by the caller (nodes on hosts of their own, say) instead of `size` new ones."""

    def __init__(self, size=3, ports=None, base_dir=None, vhost="travel", prefix=None, dist_ports=None, nodes=None):
        if nodes is not None:
            size = len(nodes)
        ports = list(ports or [None] * size)
        dist_ports = list(dist_ports or [None] * size)
        if len(ports) != size or len(dist_ports) != size:
            raise ValueError(f"{size} nodes need {size} ports")
        self._own_dir = base_dir is None
        self.base_dir = Path(base_dir or tempfile.mkdtemp(prefix="rabbit-cluster-"))
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.base_dir.chmod(0o755)
        self.prefix = prefix or f"rabbit-cl-{secrets.token_hex(3)}"
        self.vhost = vhost
        self.nodes = nodes or [
            RabbitNode(
                name=f"{self.prefix}-{n + 1}@localhost",
                port=port,
                dist_port=dist_port,
                base_dir=self.base_dir / f"node{n + 1}",
            )
            for n, (port, dist_port) in enumerate(zip(ports, dist_ports, strict=True))
        ]

    def state(self):
        """What `attach` needs to find these nodes again from another process."""
        return {
            "prefix": self.prefix,
            "base_dir": str(self.base_dir),
            "vhost": self.vhost,
            "ports": [n.port for n in self.nodes],
            "dist_ports": [n.dist_port for n in self.nodes],
        }

    @classmethod
    def attach(cls, state):
        """The cluster `state()` describes (its nodes running or not); stop() keeps its data only
        if it was given a base_dir, so `attach(...).stop()` removes nothing: remove it yourself."""
        return cls(
            len(state["ports"]),
            ports=state["ports"],
            dist_ports=state["dist_ports"],
            base_dir=state["base_dir"],
            vhost=state["vhost"],
            prefix=state["prefix"],
        )

    @property
    def uris(self):
        return [node.uri_for(self.vhost) for node in self.nodes]

    @property
    def uri(self):
        """The AMQP_URI: every node, separated by `;` (kombu's failover syntax)."""
        return ";".join(self.uris)

    def uri_for(self, vhost):
        """The AMQP_URI of another vhost of the cluster."""
        return ";".join(node.uri_for(vhost) for node in self.nodes)

    def _any_running(self):
        return next(n for n in self.nodes if n.running)

    def add_vhost(self, name, queue_type="quorum"):
        """A vhost whose default queue type is `queue_type`, on which guest may do everything."""
        node = self._any_running()
        node.ctl("add_vhost", name, "--default-queue-type", queue_type)
        node.ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        return name

    def delete_vhost(self, name):
        self._any_running().ctl("delete_vhost", name, check=False)

    def start(self):
        """Boot every node (in parallel), join them to the first, create the vhost."""
        try:
            for node in self.nodes:
                node.launch()
            for node in self.nodes:
                node.wait_started()
            seed = self.nodes[0]
            for node in self.nodes[1:]:
                if seed.name not in node.ctl("cluster_status", "--formatter", "json"):
                    node.ctl("stop_app")
                    node.ctl("join_cluster", seed.name)
                    node.ctl("start_app")
            self.wait_running(timeout=60)
            if self.vhost not in seed.ctl("list_vhosts", "--no-table-headers", "name").split():
                seed.ctl("add_vhost", self.vhost, "--default-queue-type", "quorum")
            seed.ctl("set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*")
        except BaseException:
            self.stop()
            raise
        return self

    def running_nodes(self, via=None):
        """The names of the nodes the cluster counts as running, as a live node sees it."""
        for node in [via] if via else [n for n in self.nodes if n.running]:
            try:
                status = json.loads(node.ctl("cluster_status", "--formatter", "json", timeout=30))
                return sorted(status.get("running_nodes", []))
            except (RuntimeError, ValueError, subprocess.TimeoutExpired):
                continue
        return []

    def wait_running(self, timeout=60, nodes=None):
        """Until every node (or those given) runs its app and the cluster counts it as running."""
        wanted = sorted(n.name for n in (nodes or self.nodes))
        deadline = time.monotonic() + timeout
        while True:
            running = self.running_nodes()
            if all(name in running for name in wanted):
                return running
            if time.monotonic() > deadline:
                raise TimeoutError(f"running nodes {running}, wanted {wanted}")
            time.sleep(0.5)

    def kill(self, index):
        """kill -9 of node `index`."""
        self.nodes[index].kill()

    def restart(self, index, timeout=START_TIMEOUT):
        """Boot node `index` again on its data: it rejoins the cluster by itself."""
        node = self.nodes[index]
        node.start(timeout)
        self.wait_running(timeout, nodes=[node])

    def wait_quorum_safe(self, timeout=START_TIMEOUT):
        """Until no node is quorum critical: every quorum queue has all its members back, so any one
        node may go. A node that is back and running may not be there yet (its queue members start
        and catch up after it boots); losing another node before then loses the majority. The
        seconds it took."""
        started = time.monotonic()
        deadline = started + timeout
        while any(node.quorum_critical() for node in self.nodes if node.running):
            if time.monotonic() > deadline:
                raise TimeoutError(f"a node is still quorum critical after {timeout}s")
            time.sleep(0.5)
        return time.monotonic() - started

    def queues(self, *columns, vhost=None):
        """[{column: value}] of the vhost's queues, as a running node lists them."""
        columns = columns or ("name", "type", "durable", "auto_delete", "exclusive")
        out = self._any_running().ctl("list_queues", "-p", vhost or self.vhost, "--formatter", "json", *columns)
        return json.loads(out)

    def status(self):
        return {
            "nodes": [{"name": n.name, "port": n.port, "pid": n.pid} for n in self.nodes],
            "running": self.running_nodes(),
            "uri": self.uri,
        }

    def stop(self):
        """Stop every node (the others first, then the seed) and remove the data if it was ours."""
        for node in reversed(self.nodes):
            try:
                node.stop()
            except Exception:
                node.kill()
        if self._own_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)
