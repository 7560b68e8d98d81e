"""Faults as commands, on the hosts of a devstack.netns.HostNet: a partition (both ways or one way),
a lossy link, a slow link, and a frozen, thawed or killed process.

    faults = NetFaults(net)
    faults.partition(["n1"], ["n2", "n3", "w1"])   # n1 cut off from the others, both ways
    faults.lossy("n2", 0.1)                        # 10 % of n2's packets lost, in and out
    faults.slow("n3", "1mbit", delay_ms=200)       # n3's link: 1 Mbit/s, up to 200 ms of queue
    faults.heal()                                  # every network fault gone
    faults.freeze(pid); faults.thaw(pid)           # SIGSTOP, SIGCONT

Packets are dropped as they arrive (iptables INPUT in the receiving host), so a partition is
silent on both sides: no error, no reset, as a cut cable. Every rule carries the comment
`ntv-fault`, every qdisc the handle 213:, and heal() removes exactly those. This kernel has no
netem: loss comes from iptables' `statistic` match, delay from tbf's queue.
"""

import os
import re
import signal

from devstack.netns import INSIDE, delete_rules, iptables_rules, namespace, namespace_pids, namespaces, sh

FAULT_TAG = "ntv-fault"
QDISC_HANDLE = "213:"
UNITS = {"bit": 1, "kbit": 1e3, "mbit": 1e6, "gbit": 1e9}


def _hosts(side):
    return [side] if isinstance(side, str) else list(side)


def bits_per_second(rate):
    """`rate` in bit/s: a number, or tc's form ("1mbit", "500kbit")."""
    if isinstance(rate, (int, float)):
        return int(rate)
    match = re.fullmatch(r"\s*([\d.]+)\s*([kmg]?bit)\s*", rate.lower())
    if not match:
        raise ValueError(f"rate {rate!r}: a number of bit/s, or like 1mbit, 500kbit")
    return int(float(match[1]) * UNITS[match[2]])


class NetFaults:
    """Faults on `net`'s hosts (a HostNet); heal() and HostNet.down() undo the network ones."""

    def __init__(self, net):
        self.net = net

    # -- the network --------------------------------------------------------------------------

    def partition(self, side_a, side_b, one_way=False, ports=None):
        """Cut every host of `side_a` off from every host of `side_b` (a host name or a list):
        both ways, or with `one_way` only what `side_a` sends to `side_b`; with `ports`, only
        TCP to or from those ports (one service of a host, its neighbours left connected)."""
        only = ["-p", "tcp", "-m", "multiport", "--ports", ",".join(map(str, ports))] if ports else []
        for a in _hosts(side_a):
            for b in _hosts(side_b):
                self._rule(b, "INPUT", "-s", self.net.address(a), *only, "-j", "DROP")
                if not one_way:
                    self._rule(a, "INPUT", "-s", self.net.address(b), *only, "-j", "DROP")

    def lossy(self, host, fraction):
        """Drop `fraction` (0..1) of the packets `host` receives, and of those it sends, at random."""
        if not 0 <= fraction <= 1:
            raise ValueError("fraction is between 0 and 1")
        chance = ["-m", "statistic", "--mode", "random", "--probability", f"{fraction:.4f}", "-j", "DROP"]
        self._rule(host, "INPUT", "-i", INSIDE, *chance)
        self._rule(host, "OUTPUT", "-o", INSIDE, *chance)

    def slow(self, host, rate, delay_ms=100):
        """`host`'s link at `rate` (bit/s, or tc's "1mbit") each way, by tbf on both ends of its
        veth pair; a packet waits up to `delay_ms` in the queue, and is dropped beyond."""
        bps = bits_per_second(rate)
        burst = max(bps // 8 // 50, 3000)  # 20 ms of traffic, and at least two full frames
        tbf = ["root", "handle", QDISC_HANDLE, "tbf", "rate", f"{bps}bit", "burst", burst, "latency", f"{delay_ms}ms"]
        sh("tc", "qdisc", "replace", "dev", namespace(host), *tbf)  # the root end: what goes to the host
        sh("tc", "-n", namespace(host), "qdisc", "replace", "dev", INSIDE, *tbf)  # the host's end: what it sends

    def heal(self, hosts=None):
        """Remove every network fault (ours only) on `hosts` (default: every host that exists)."""
        for host in namespaces() if hosts is None else _hosts(hosts):
            delete_rules(iptables_rules(FAULT_TAG, host=host), host=host)
            for device, netns in ((namespace(host), None), (INSIDE, namespace(host))):
                argv = ["tc", *(["-n", netns] if netns else []), "qdisc"]
                shown = sh(*argv, "show", "dev", device, check=False).stdout
                if f"qdisc tbf {QDISC_HANDLE} root" in shown:
                    sh(*argv, "del", "dev", device, "root", check=False)

    def active(self):
        """{host: [fault rules and qdiscs]} now in place, for a status line or a check."""
        found = {}
        for host in namespaces():
            rules = iptables_rules(FAULT_TAG, host=host)
            shown = sh("tc", "qdisc", "show", "dev", namespace(host), check=False).stdout
            rules += [line for line in shown.splitlines() if f"tbf {QDISC_HANDLE}" in line]
            if rules:
                found[host] = rules
        return found

    def _rule(self, host, chain, *match):
        argv = ["iptables", "-w", "-I", chain, *match, "-m", "comment", "--comment", FAULT_TAG]
        self.net.run(host, argv)

    # -- processes ----------------------------------------------------------------------------

    def freeze(self, *pids):
        """SIGSTOP: the process holds its sockets open and says nothing, as in a long GC pause."""
        self._signal(pids, signal.SIGSTOP)

    def thaw(self, *pids):
        self._signal(pids, signal.SIGCONT)

    def thaw_all(self):
        """SIGCONT to every process on every host: none is left frozen (a stop then is not stalled)."""
        for host in namespaces():
            for pid in namespace_pids(host):
                try:
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:  # exited since it was listed
                    pass

    def kill(self, *pids):
        """SIGKILL: the kernel closes its sockets and the peers know at once."""
        self._signal(pids, signal.SIGKILL)

    @staticmethod
    def _signal(pids, sig):
        for pid in pids:
            os.kill(pid, sig)
