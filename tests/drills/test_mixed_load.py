"""The fault drills' mixed load, its read-back and the checker on the real stack with no fault: no
anomaly; and a record removed behind the load's back, straight from Redis, is reported lost."""

import time

from drills.checker import check
from drills.history import CREATE, DELETE, OK, READ
from drills.mixed_load import MixedLoad, mixed_load
from drills.readback import read_back
from workers.common.storage import Keyspace


def read_back_of(stack):
    found = read_back(stack.url(), stack.worker_env["REDIS_URI"], stack.worker_env["REDIS_KEY_PREFIX"])
    assert found.errors == []
    return found


def test_a_run_with_no_fault_has_no_anomaly(drill_stack):
    stack = drill_stack()
    history = mixed_load(stack.url(), 5.0, clients=16)
    found = read_back_of(stack)
    verdict = check(history, found.api, found.redis)
    assert verdict.valid, verdict.problems()
    operations = history.operations
    done = {kind: [o for o in operations if o.kind == kind and o.outcome == OK] for kind in (CREATE, READ, DELETE)}
    assert (verdict.run.failed, verdict.run.unknown) == (0, 0), [o for o in operations if o.outcome != OK][:5]
    assert len(done[CREATE]) > 20 and len(done[DELETE]) > 0 and len(done[READ]) > 5 * len(done[CREATE])
    assert sum(o.idempotency_key is not None for o in done[CREATE]) > 5
    ours = [r for r in found.api if r["name"].startswith(history.run)]
    assert len(ours) == len(done[CREATE]) - len(done[DELETE]) > 0


def test_a_record_removed_behind_the_loads_back_is_reported_lost(drill_stack, redis_client):
    stack = drill_stack()
    keys = Keyspace(stack.worker_env["REDIS_KEY_PREFIX"], "airports")
    load = MixedLoad(stack.url(), clients=16).start()
    try:
        time.sleep(2.0)
        # the newest acknowledged create that the load has not deleted itself (DEL says so)
        created = [o.record for o in load.history.operations if o.kind == CREATE and o.outcome == OK]
        victim = next(r for r in reversed(created[1:]) if redis_client.delete(keys("record", r)))
        redis_client.zrem(keys("index"), victim)  # as a lost write: not listed either
        time.sleep(2.0)
    finally:
        history = load.stop()
    found = read_back_of(stack)
    verdict = check(history, found.api, found.redis)
    assert [a.detail.split()[1] for a in verdict.run.lost] == [f"({victim})"], verdict.problems()
    assert verdict.problems() == [f"lost: {verdict.run.lost[0].detail}"]
