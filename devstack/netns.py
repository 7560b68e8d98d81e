"""Hosts of their own on this machine: one Linux network namespace per host (`ntv-<host>`), each
with a veth pair to the bridge `ntv-br`, an address in 10.213.0.0/24 (a range used for nothing
else; the root namespace, where the load runs, is 10.213.0.1) and a hosts file naming every host.

    with HostNet(["n1", "n2", "w1"]) as net:     # up() on enter, down() on exit
        net.address("n1")                        # 10.213.0.11
        net.popen("n1", ["redis-server", ...])   # `ip netns exec ntv-n1 redis-server ...`
    HostNet().down()                             # what a dead run left, found by its names

Everything is found by its names, never from memory, so `down()` from a fresh process cleans up
after a crash. One run at a time on a machine: up() takes a lock (its holder's pid in LOCK) that
down() of another live holder's hosts refuses. Needs root, iproute2 and iptables (Debian's). No
route leads out of the range.
"""

import fcntl
import ipaddress
import json
import os
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

PREFIX = "ntv-"
BRIDGE = f"{PREFIX}br"
NETWORK = ipaddress.ip_network("10.213.0.0/24")
ROOT_ADDRESS = "10.213.0.1"  # the root namespace's address on the bridge
FIRST_HOST = 11  # hosts are 10.213.0.11, .12, ... in the order given
NETNS_ETC = Path("/etc/netns")
TAG = "ntv-harness"  # the comment on the root namespace's iptables rule
INSIDE = "eth0"  # each host's end of its veth pair
LOCK = Path("/run/ntv-harness.lock")


def sh(*argv, check=True, **kw):
    """Run a command; its CompletedProcess (text output captured)."""
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True, **kw)
    if check and done.returncode:
        raise RuntimeError(f"{shlex.join(map(str, argv))}: {done.stderr.strip() or done.stdout.strip()}")
    return done


def namespace(host):
    return f"{PREFIX}{host}"


def in_netns(netns, argv):
    """`argv` as run in the network namespace `netns` (`ip netns exec NETNS argv...`: it execs, so
    the pid is the program's), or as it is when `netns` is None."""
    argv = [str(a) for a in argv]
    return ["ip", "netns", "exec", netns, *argv] if netns else argv


def in_namespace(host, argv):
    """`argv` as run on `host`."""
    return in_netns(namespace(host), argv)


def namespaces():
    """The hosts whose namespaces exist now (ours: named ntv-*)."""
    names = sh("ip", "netns", "list").stdout.split()
    return sorted(name[len(PREFIX) :] for name in names if name.startswith(PREFIX))


def namespace_pids(host):
    """The processes living in `host`'s network namespace."""
    done = sh("ip", "netns", "pids", namespace(host), check=False)
    return sorted(int(pid) for pid in done.stdout.split())


def iptables_rules(tag, chain=None, host=None):
    """The `iptables -S` lines (in `host`'s namespace, or the root's) whose comment is `tag`."""
    argv = ["iptables", "-w", "-S", *([chain] if chain else [])]
    done = sh(*(in_namespace(host, argv) if host else argv), check=False)
    return [line for line in done.stdout.splitlines() if f"--comment {tag}" in line]


def delete_rules(lines, host=None):
    """Delete the rules `iptables -S` printed as `lines` (`-A CHAIN ...` becomes `-D CHAIN ...`)."""
    for line in lines:
        argv = ["iptables", "-w", "-D", *shlex.split(line)[1:]]
        sh(*(in_namespace(host, argv) if host else argv), check=False)


class HostNet:
    """The hosts `hosts` (short names: they are node names and hostnames too), made by `up()`,
    removed by `down()` with anything a previous run left behind."""

    def __init__(self, hosts=()):
        self.hosts = list(hosts)
        self._lock = None
        if len(self.hosts) > NETWORK.num_addresses - FIRST_HOST - 1:
            raise ValueError("too many hosts for 10.213.0.0/24")
        for host in self.hosts:
            if not host.isalnum() or len(namespace(host)) > 15:  # an interface name: 15 characters
                raise ValueError(f"host name {host!r}: letters and digits, at most {15 - len(PREFIX)}")

    def address(self, host):
        """The host's address: from the order given, or (a host of another run) from its namespace."""
        if host in self.hosts:
            return str(NETWORK[FIRST_HOST + self.hosts.index(host)])
        listed = json.loads(sh(*in_namespace(host, ["ip", "-j", "-4", "addr", "show", INSIDE])).stdout)
        return listed[0]["addr_info"][0]["local"]

    # -- life cycle ---------------------------------------------------------------------------

    def __enter__(self):
        return self.up()

    def __exit__(self, *exc):
        self.down()

    def up(self):
        """Remove what an earlier run left, check the range is free, make every host."""
        self._take_lock()
        self._remove_all()
        self._check_range_unused()
        try:
            sh("ip", "link", "add", BRIDGE, "type", "bridge")
            sh("ip", "addr", "add", f"{ROOT_ADDRESS}/{NETWORK.prefixlen}", "dev", BRIDGE)
            sh("ip", "link", "set", BRIDGE, "up")
            for host in self.hosts:
                self._add_host(host)
            self._allow_forwarding()
        except BaseException:
            self._remove_all()
            self._release_lock()
            raise
        return self

    def _check_range_unused(self):
        """No address or route of the machine may be in the range: the hosts must reach only each other."""
        for listing in (["ip", "-j", "addr"], ["ip", "-j", "route"]):
            text = sh(*listing).stdout
            for entry in json.loads(text):
                for value in [entry.get("dst", "")] + [a.get("local", "") for a in entry.get("addr_info", [])]:
                    try:
                        if value and ipaddress.ip_network(value, strict=False).overlaps(NETWORK):
                            raise RuntimeError(f"{NETWORK} is in use on this machine ({value}): not starting")
                    except ValueError:  # "default" and the like
                        continue

    def _add_host(self, host):
        ns, address = namespace(host), self.address(host)
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", ns, "type", "veth", "peer", "name", INSIDE, "netns", ns)
        sh("ip", "link", "set", ns, "master", BRIDGE, "up")
        sh("ip", "-n", ns, "addr", "add", f"{address}/{NETWORK.prefixlen}", "dev", INSIDE)
        sh("ip", "-n", ns, "link", "set", INSIDE, "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        etc = NETNS_ETC / ns
        etc.mkdir(parents=True, exist_ok=True)
        lines = ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback", f"{ROOT_ADDRESS} {PREFIX}root"]
        lines += [f"{self.address(name)} {name}" for name in self.hosts]
        (etc / "hosts").write_text("\n".join(lines) + "\n")

    def _allow_forwarding(self):
        """Bridged frames pass the root namespace's FORWARD chain when br_netfilter is loaded
        (net.bridge.bridge-nf-call-iptables = 1): a rule of ours accepts them whatever its policy."""
        if shutil.which("iptables"):
            sh(
                "iptables",
                "-w",
                "-I",
                "FORWARD",
                "-i",
                BRIDGE,
                "-o",
                BRIDGE,
                "-j",
                "ACCEPT",
                "-m",
                "comment",
                "--comment",
                TAG,
            )

    def _take_lock(self):
        """The machine's hosts are this object's until down(), or until its process dies."""
        if self._lock is not None:
            return
        lock = open(LOCK, "a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "unknown"
            lock.close()
            raise RuntimeError(f"the ntv-* hosts are in use by another run (pid {holder})") from None
        lock.truncate(0)
        lock.write(str(os.getpid()))
        lock.flush()
        self._lock = lock

    def _release_lock(self):
        if self._lock is not None:
            self._lock.close()  # closing releases the flock
            self._lock = None

    def down(self):
        """Kill every process in an ntv-* namespace, remove those namespaces, their links, the
        bridge, their /etc/netns directories and our iptables rule: from names, not memory.
        Refused while another live run (another HostNet, here or elsewhere) holds the hosts."""
        self._take_lock()
        try:
            self._remove_all()
        finally:
            self._release_lock()

    def _remove_all(self):
        hosts = namespaces()
        for host in hosts:
            kill_all(host)
        for host in hosts:
            sh("ip", "netns", "del", namespace(host), check=False)
        links = json.loads(sh("ip", "-j", "link", "show").stdout)
        for link in links:
            if link["ifname"].startswith(PREFIX):
                sh("ip", "link", "del", link["ifname"], check=False)
        if NETNS_ETC.is_dir():
            for path in NETNS_ETC.glob(f"{PREFIX}*"):
                shutil.rmtree(path, ignore_errors=True)
        if shutil.which("iptables"):
            delete_rules(iptables_rules(TAG, "FORWARD"))

    # -- running things on a host -------------------------------------------------------------

    def command(self, host, argv):
        return in_namespace(host, argv)

    def popen(self, host, argv, env=None, **kw):
        """subprocess.Popen of `argv` on `host` (its pid is the program's: `ip netns exec` execs)."""
        return subprocess.Popen(in_namespace(host, argv), env=env, **kw)

    def run(self, host, argv, check=True, **kw):
        """`argv` run to its end on `host`: its CompletedProcess (text output captured)."""
        return sh(*in_namespace(host, argv), check=check, **kw)

    def pids(self, host):
        return namespace_pids(host)

    def status(self):
        """{host: {"address", "pids"}} of the hosts that exist now (this run's or another's)."""
        return {host: {"address": self.address(host), "pids": namespace_pids(host)} for host in namespaces()}


def kill_all(host, timeout=10):
    """SIGKILL to every process in `host`'s namespace, until none is left (a dying one may fork)."""
    deadline = time.monotonic() + timeout
    while pids := namespace_pids(host):
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes {pids} on {host} survive SIGKILL")
        time.sleep(0.05)
