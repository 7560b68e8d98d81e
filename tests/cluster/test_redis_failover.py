"""Redis with automatic failover: the redis-failover drill against a Sentinel set of the test's own
(devstack.redis_sentinel: a primary, two replicas, three sentinels) and real `nameko run` workers
and an ASGI gateway. The primary is killed with SIGKILL under mixed load, twice (the second time the
node killed first is back, as a replica, and the replicas lag 1.5 s behind); writes get 503s
meanwhile, reads go on, everything serves again, and the acknowledged writes lost are counted:
none while the replicas keep up, some when they lag, and none then with REDIS_WAIT_REPLICAS."""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

from devstack.redis_sentinel import RedisSentinelSet
from drills.redis_failover import redis_failover
from tests.support.processes import ROOT
from workers.airports import storage as airport_storage

pytestmark = pytest.mark.cluster

PASSWORD = "sentinel-set-secret-4f1c"  # must never reach a log


@pytest.fixture(scope="module")
def sentinel_set():
    base_dir = tempfile.mkdtemp(prefix="redis-sentinel-test-")
    made = RedisSentinelSet(base_dir, password=PASSWORD).start()
    yield made
    made.stop()
    shutil.rmtree(base_dir, ignore_errors=True)


class Fault:
    """Kills the set's primary; brings the killed node back as a replica, and waits until the set
    is whole again (so that the next round has two replicas to fail over to)."""

    def __init__(self, sentinel_set):
        self.set, self.killed = sentinel_set, []

    def kill_primary(self):
        self.killed.append(self.set.kill_primary())

    def kill_primary_ahead_of_its_replicas(self, lag=1.5):
        """The worst case of asynchronous replication: the replicas lose their link to the primary
        for `lag` seconds while it goes on acknowledging writes, then the primary dies. (Their link
        is cut and kept down with a wrong password: a stopped process would not do, since the
        kernel's buffers would take the stream and hand it over when it resumed.)"""
        replicas = [self.set.client(name) for name in self.set.replicas()]
        try:
            for replica in replicas:
                replica.config_set("masterauth", "not-the-password")
                replica.client_kill_filter(_type="master")
            time.sleep(lag)
            self.kill_primary()
        finally:
            for replica in replicas:
                replica.config_set("masterauth", PASSWORD)

    def restart(self):
        self.set.restart(self.killed[-1])
        self.set.wait_healthy(30)

    def failovers(self):
        """How many failovers the sentinels have run: their config epoch counts them. More than
        the kills means a spurious one (a primary slow to answer on a loaded machine is taken for
        dead): the old primary takes writes until it is demoted, and loses them then."""
        return int(self.set.sentinel_view(next(iter(self.set.sentinels.values())))["config-epoch"])


def lua_sha(lua):
    return hashlib.sha1(lua.encode()).hexdigest()


def test_a_killed_primary_fails_over_with_503s_meanwhile_and_no_restart_by_hand(drill_stack, sentinel_set):
    stack = drill_stack(redis_uri=sentinel_set.uri)
    fault = Fault(sentinel_set)
    create_sha = lua_sha(airport_storage._CREATE)

    # Replicas in step (here, on one machine, they are a fraction of a millisecond behind).
    in_step = redis_failover(stack.url(), fault.kill_primary, restart=fault.restart)
    print(in_step, f"\n  failovers: {fault.failovers()} for 1 kill")
    assert in_step.passed, str(in_step)
    assert in_step.stats["acknowledged_writes"] > 50, "too little load to say anything of lost writes"

    # Replicas 1.5 s behind: what the primary acknowledged in that time is lost, and counted.
    behind = redis_failover(stack.url(), fault.kill_primary_ahead_of_its_replicas, restart=fault.restart)
    print(behind)
    assert behind.passed, str(behind)
    assert behind.stats["lost_writes"] > 0, "writes only the dead primary had were not missed: the count is blind"
    assert fault.killed[0] != fault.killed[1], "the second round must kill the primary the first one promoted"

    # The scripts ran on the promoted primaries although their script cache started empty (Redis 7
    # replicates no SCRIPT LOAD): redis-py's NOSCRIPT handling loaded them there.
    promoted = sentinel_set.primary()
    assert sentinel_set.client(promoted).script_exists(create_sha) == [True]

    assert all(process.running() for process in stack.workers)
    health = subprocess.run(
        [sys.executable, "-m", "workers.healthcheck", "airports_service", "trips_service"],
        env={**os.environ, "AMQP_URI": stack.amqp_uri},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert health.returncode == 0, health.stderr
    for process in stack.processes:
        assert PASSWORD not in process.output(), f"{process.name} logged the Redis password"


def test_waiting_for_a_replica_loses_no_acknowledged_write(drill_stack, sentinel_set):
    # REDIS_WAIT_TIMEOUT_MS as shipped (1000 ms). In some runs on this 2-core machine (CI, 2026-12-07:
    # 16 writes at 1.2 and 2.25 s after the first one served) every write of a 2 s stretch after the
    # recovery got its 503 after the wait: the one replica left acknowledged nothing for a while. The
    # cause is not proven; a second, spurious failover (sentinels taking the loaded new primary for
    # dead after 1 s) fits it, hence the count printed. Those 503s carry Retry-After and lose nothing
    # (a write not confirmed is not acknowledged), so the drill allows them for 3 s past the recovery.
    stack = drill_stack(redis_uri=sentinel_set.uri, worker_extra={"REDIS_WAIT_REPLICAS": 1})
    fault = Fault(sentinel_set)
    failovers_before = fault.failovers()
    report = redis_failover(
        stack.url(),
        fault.kill_primary_ahead_of_its_replicas,
        restart=fault.restart,
        max_lost=0,
        settle=3.0,
        after=6.0,
    )
    print(report, f"\n  failovers: {fault.failovers() - failovers_before} for 1 kill")
    assert report.passed, f"{report}\n  failovers: {fault.failovers() - failovers_before} for 1 kill"
    assert report.stats["acknowledged_writes"] > 50
