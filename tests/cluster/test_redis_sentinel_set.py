"""devstack.redis_sentinel's command line, as scripts and the drills' fault commands use it: each
command a process of its own, the set found again from its directory, every node stopped by pid."""

import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from bench.measure import redis_ports
from devstack.isolation import free_port, wait_port
from devstack.processes import alive
from devstack.redis_sentinel import STATE_FILE, RedisSentinelSet
from tests.support.processes import ROOT

pytestmark = pytest.mark.cluster


def devstack(*args):
    done = subprocess.run(
        [sys.executable, "-m", "devstack.redis_sentinel", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def base_dir():
    made = tempfile.mkdtemp(prefix="redis-sentinel-cli-")
    yield made
    if os.path.exists(os.path.join(made, STATE_FILE)):
        RedisSentinelSet.attach(made).stop()  # a failed test leaves nothing running
    shutil.rmtree(made, ignore_errors=True)


def test_up_kill_the_primary_restart_it_as_a_replica_and_down(base_dir):
    primary_port = free_port()
    printed = devstack("up", "--dir", base_dir, "--primary-port", str(primary_port), "--password", "pw-cli")
    uri = next(line.split("=", 1)[1] for line in printed.splitlines() if line.startswith("REDIS_URI="))
    assert uri.startswith("redis+sentinel://:pw-cli@127.0.0.1:") and uri.endswith("/travel/0")
    assert devstack("uri", "--dir", base_dir).strip() == uri
    assert os.stat(os.path.join(base_dir, STATE_FILE)).st_mode & 0o077 == 0  # it holds the password

    found = RedisSentinelSet.attach(base_dir)
    assert found.nodes["redis-1"].port == primary_port and found.primary() == "redis-1"

    assert found.nodes["redis-1"].running() and found.sentinels["sentinel-1"].running()  # found by pid
    # the benchmark harness's Redis tier on such a set: the sentinels and the servers they name
    tier = [*found.sentinel_ports, *(node.port for node in found.nodes.values())]
    assert sorted(redis_ports(uri)) == sorted(tier)
    assert devstack("kill-primary", "--dir", base_dir).strip() == "redis-1"
    assert not found.nodes["redis-1"].running()
    promoted = found.wait_for_failover("redis-1")
    assert promoted in ("redis-2", "redis-3")

    devstack("restart", "--dir", base_dir)  # every stopped node: redis-1, as a replica
    found = RedisSentinelSet.attach(base_dir)
    assert found.client("redis-1").info("replication")["role"] == "slave"
    found.wait_healthy(30)
    assert found.primary() == promoted

    pids = [p.pid for p in [*found.nodes.values(), *found.sentinels.values()]]
    devstack("down", "--dir", base_dir)
    for pid in pids:
        assert not alive(pid)
    assert not any(p.running() for p in [*found.nodes.values(), *found.sentinels.values()])
    wait_port(primary_port, 5, up=False)
    assert not os.path.exists(os.path.join(base_dir, STATE_FILE))
