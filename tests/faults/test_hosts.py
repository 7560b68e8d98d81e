"""Hosts of their own (devstack.netns) and the faults on their links (devstack.netfaults), measured
with small probes (netprobe.py) run on the hosts."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from devstack import netns
from devstack.netfaults import FAULT_TAG, NetFaults
from devstack.netns import HostNet
from devstack.processes import ROOT

pytestmark = pytest.mark.faults

PROBE = Path(__file__).with_name("netprobe.py")
SINK_PORT, UDP_PORT = 7000, 7001
HOSTS = ["h1", "h2", "h3"]


@pytest.fixture
def net():
    """Three hosts, each with a TCP sink listening; all removed afterwards."""
    with HostNet(HOSTS) as made:
        for host in HOSTS:
            made.popen(host, [sys.executable, PROBE, "tcp-sink", SINK_PORT], stdout=subprocess.DEVNULL)
        for host in HOSTS:  # until every sink listens
            deadline = time.monotonic() + 10
            while not probe(made, "h1" if host != "h1" else "h2", "tcp-send", host, SINK_PORT, 1, 1)["ok"]:
                assert time.monotonic() < deadline, f"the sink on {host} did not start"
                time.sleep(0.1)
        yield made


@pytest.fixture
def faults(net):
    return NetFaults(net)


def probe(net, host, *args):
    """netprobe.py's answer, run on `host`."""
    return json.loads(net.run(host, [sys.executable, PROBE, *args]).stdout)


def reaches(net, source, target, timeout=1.5):
    """Whether `source` gets 10 bytes to `target`'s sink (by name) and its answer back."""
    return probe(net, source, "tcp-send", target, SINK_PORT, 10, timeout)["ok"]


def udp_received(net, source, target, count=300):
    """How many of `count` datagrams from `source` reach `target`."""
    argv = [sys.executable, PROBE, "udp-count", UDP_PORT, count / 1000 + 2, count]
    counter = net.popen(target, argv, stdout=subprocess.PIPE)
    assert json.loads(counter.stdout.readline())["listening"]
    probe(net, source, "udp-send", target, UDP_PORT, count)
    out, _ = counter.communicate(timeout=30)
    return json.loads(out)["received"]


def throughput(net, source, target, size):
    """bit/s of `size` bytes sent from `source` to `target`'s sink."""
    answer = probe(net, source, "tcp-send", target, SINK_PORT, size, 30)
    assert answer["ok"], answer
    return size * 8 / answer["seconds"]


def test_hosts_reach_each_other_by_name_and_the_root_namespace_by_address(net):
    for source in HOSTS:
        for target in HOSTS:
            assert reaches(net, source, target), f"{source} -> {target}"
    hosts_file = Path("/etc/netns/ntv-h1/hosts").read_text()
    assert all(f"{net.address(host)} {host}" in hosts_file for host in HOSTS)
    assert net.address("h2") == "10.213.0.12"
    from_root = [sys.executable, PROBE, "tcp-send", net.address("h3"), str(SINK_PORT), "10", "2"]
    assert json.loads(subprocess.run(from_root, capture_output=True, text=True).stdout)["ok"]
    assert net.pids("h1") and set(net.pids("h1")).isdisjoint(net.pids("h2"))


def test_a_partition_cuts_both_ways_and_heal_restores_it(net, faults):
    faults.partition("h1", ["h2"])
    assert not reaches(net, "h1", "h2")
    assert not reaches(net, "h2", "h1")
    assert reaches(net, "h1", "h3") and reaches(net, "h3", "h2")  # only the two sides are cut
    assert set(faults.active()) == {"h1", "h2"}
    faults.heal()
    assert faults.active() == {}
    assert reaches(net, "h1", "h2") and reaches(net, "h2", "h1")


def test_a_one_way_partition_drops_only_what_one_side_sends(net, faults):
    faults.partition(["h1"], ["h2"], one_way=True)
    assert udp_received(net, "h1", "h2") == 0
    assert udp_received(net, "h2", "h1") == 300
    assert udp_received(net, "h1", "h3") == 300
    faults.heal()
    assert udp_received(net, "h1", "h2") == 300


def test_a_lossy_link_drops_about_its_fraction_each_way(net, faults):
    faults.lossy("h1", 0.3)
    for source, target in (("h1", "h2"), ("h2", "h1")):
        received = udp_received(net, source, target, count=600)
        assert 0.6 * 600 <= received <= 0.8 * 600, f"{source} -> {target}: {received} of 600"
    assert reaches(net, "h2", "h3")  # other links are whole
    faults.heal()
    assert udp_received(net, "h1", "h2") == 300


def test_a_slow_link_limits_throughput_each_way(net, faults):
    size = 500_000  # bytes: 1 s at 4 Mbit/s
    unlimited = throughput(net, "h1", "h2", size)
    faults.slow("h2", "4mbit", delay_ms=200)
    for source, target in (("h1", "h2"), ("h2", "h1")):
        rate = throughput(net, source, target, size)
        assert 3e6 <= rate <= 4.4e6, f"{source} -> {target}: {rate / 1e6:.1f} Mbit/s"
    assert unlimited > 50e6  # without the fault: far above
    faults.heal()
    assert throughput(net, "h1", "h2", size) > 50e6


def test_down_removes_everything_a_crashed_run_left():
    """A process makes hosts, a process on one, a rule and a slow link, and dies by kill -9. While
    it lived, down() from elsewhere refused; afterwards down() from a new object removes it all."""
    script = textwrap.dedent("""
        import subprocess, sys, time
        from devstack.netns import HostNet
        from devstack.netfaults import NetFaults
        net = HostNet(["x1", "x2"]).up()
        NetFaults(net).partition("x1", "x2")
        NetFaults(net).slow("x2", "1mbit")
        sleeper = net.popen("x1", ["sleep", "600"])
        print(sleeper.pid, flush=True)
        time.sleep(600)
    """)
    crashed = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    sleeper = int(crashed.stdout.readline())
    try:
        assert netns.namespaces() == ["x1", "x2"]
        with pytest.raises(RuntimeError, match="in use by another run"):
            HostNet().down()
    finally:
        crashed.send_signal(signal.SIGKILL)
        crashed.wait()
    assert os.path.exists(f"/proc/{sleeper}")  # left running by the dead run
    HostNet().down()
    assert netns.namespaces() == []
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    assert "ntv-" not in links
    assert not list(Path("/etc/netns").glob("ntv-*"))
    assert netns.iptables_rules(netns.TAG) == [] and netns.iptables_rules(FAULT_TAG) == []
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{sleeper}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{sleeper}")
