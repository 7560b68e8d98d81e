"""Issue 28's targets, fault by fault (drills/host_faults.py), on one HostStack for the module, under
the mixed load through both gateways at once. Each outcome's table is appended to FAULTS_REPORT
(default: .run/faults-report.md), the figures docs/faults.md quotes.

Safety is asserted for every fault: nothing stored twice, nothing nobody asked for; and the API and
Redis agreeing, with no acknowledged write lost or delete undone (the Redis split brain included,
with the shipped REDIS_WAIT_REPLICAS=2), except under the other faults that partition the Redis
Sentinel set (FaultPlan.splits_sentinel), which were measured to lose some (SENTINEL_LIMIT: reported
as an expected failure, with what was lost or seen on one node only, and what a copy of the call
stored again under another id). So are the cluster settling after the heal with nothing restarted by
hand, and the availability targets (time to notice, no failure while a majority is up but a Redis
write's 503 during a failover), except where MEASURED_MISSES says what this design was measured to
miss, and why: that test is reported as an expected failure, with the misses."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from devstack.hosts import HostStack
from devstack.processes import ROOT
from drills.host_faults import FAULTS, run_fault

pytestmark = pytest.mark.faults

REPORT = Path(os.environ.get("FAULTS_REPORT", ROOT / ".run" / "faults-report.md"))

# fault -> what this design was measured to miss there, and why (docs/faults.md has the figures)
MEASURED_MISSES = {
    "rabbit-freeze": "under pause_minority RabbitMQ does not heal a node that was suspended: the split "
    "stays until that node's app restarts (RabbitMQ's docs, 'Partitions Caused by Suspend and Resume'); "
    "a call in flight when the node froze can time out: its quorum queue has no leader for 8-11 s "
    "(net_ticktime, then the election)",
    "rabbit-cut-off": "the calls in flight when the node was cut off (about one per client) time out, and "
    "requests wait up to 12 s: the quorum queues have no leader for 9-11 s (net_ticktime, then the election)",
    "redis-freeze": "a read or two answer 503 while Sentinel fails over, and a request waits up to "
    "5-8 s before the workers' clients follow the new primary",
    "lossy-link": "requests through the WSGI gateway may fail with a majority up (3 reads in one run of six, "
    "3,771 requests in another, 0 in the rest): most likely its node watch, which drops a node silent for "
    "1 s, took the lossy node (or every node) for silent, and calls fail fast while no link is free (not "
    "proven: those runs kept no history)",
}


# A partition that splits the Sentinel set can lose acknowledged writes, REDIS_WAIT_REPLICAS=2 or not:
# measured on the majorities ring (a failover decided at the instant of the heal), docs/faults.md.
# With the record goes its idempotency entry: a copy of the call still queued may then store the
# request again under another id ("replaced", drills/checker.py), once; never twice. Read back soon
# after the heal, such writes were once listed by the API and missing from the primary the sentinels
# name (a clean-clone CI run, 2026-12-07; most likely the workers still read the old primary).
SENTINEL_LIMIT = (
    "a partition of the Redis Sentinel set lost acknowledged writes (some stored again under another id "
    "by a copy of the call); no Sentinel setting promises it"
)


@pytest.fixture(scope="module")
def hosts():
    """FAULTS_KEEP_LOGS=DIR keeps every node's files, every process's log and the histories in a new
    directory under DIR."""
    kept = os.environ.get("FAULTS_KEEP_LOGS")
    if kept:
        os.makedirs(kept, exist_ok=True)
        os.chmod(kept, 0o755)  # the rabbitmq user reaches its nodes' directories through it
    directory = tempfile.mkdtemp(prefix="host-faults-", dir=kept)  # not pytest's tmp_path: rabbitmq must reach it
    with HostStack(directory) as made:
        yield made
    if not kept:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.timeout(900)  # a fault of up to 60 s, the settling and the read-back
@pytest.mark.parametrize("name", list(FAULTS))
def test_a_fault_loses_nothing_and_costs_what_it_should(hosts, name):
    outcome = run_fault(hosts, FAULTS[name])
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    with REPORT.open("a", encoding="utf-8") as report:
        report.write(f"\n{outcome}\n")
    print(outcome)
    # never: a request stored twice, a record nobody asked for; nor the API and Redis disagreeing, but
    # where the Sentinel set was split (two primaries for a while: SENTINEL_LIMIT)
    splits_sentinel = FAULTS[name].splits_sentinel
    hard = outcome.safety_misses(kinds=("doubled", "unexpected"), disagreements=not splits_sentinel)
    assert not hard, outcome.safety_misses()
    if splits_sentinel and outcome.safety_misses():
        pytest.xfail(f"{SENTINEL_LIMIT}: {outcome.safety_misses()}")
    misses = outcome.misses()
    if misses and name in MEASURED_MISSES:
        pytest.xfail(f"{MEASURED_MISSES[name]}: {misses}")
    assert not misses, misses
