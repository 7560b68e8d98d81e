"""The history checker (drills/checker.py) on hand-built histories: each kind of anomaly is caught
and attributed to its fault, a clean history passes, and the availability figures are exact."""

import pytest

from drills.checker import Fault, check, p99, table, table_row
from drills.history import CREATE, DELETE, FAILED, OK, READ, UNKNOWN, History, Operation, outcome_of

pytestmark = pytest.mark.fast

RUN = "mixed-test"


def history(*operations):
    made = History(RUN, started=0.0)
    for operation in operations:
        made.append(operation)
    return made


def create(n, at, outcome=OK, took=0.1, record=None):
    """Create number `n` (marker RUN-n), invoked `at`; its record id is `id-n` when acknowledged."""
    if record is None and outcome == OK:
        record = f"id-{n}"
    return Operation(0, CREATE, at, at + took, outcome, record=record, marker=f"{RUN}-{n}")


def delete(record, at, outcome=OK, took=0.1):
    return Operation(0, DELETE, at, at + took, outcome, record=record, status=204 if outcome == OK else 0)


def read(at, took=0.01, outcome=OK, status=200, record="id-0"):
    return Operation(0, READ, at, None if took is None else at + took, outcome, record=record, status=status)


def stored(*numbers, ids=None):
    """The read-back holding the records of those creates (ids: `id-n` unless given)."""
    ids = ids or [f"id-{n}" for n in numbers]
    return {i: {"id": i, "name": f"{RUN}-{n}", "iata": None} for i, n in zip(ids, numbers, strict=True)}


def clean():
    return history(
        create(0, 0.0),
        create(1, 0.5),
        create(2, 1.0),
        read(1.2),
        delete("id-2", 2.0),
        create(3, 3.0, outcome=FAILED),
        create(4, 3.5, outcome=UNKNOWN),  # took no effect: allowed
    )


def test_a_clean_history_passes():
    final = stored(0, 1)
    verdict = check(clean(), final, final, [Fault("freeze", 1.0, 2.0)])
    assert verdict.valid, verdict.problems()
    assert verdict.problems() == [] and verdict.run.recovered == []
    assert (verdict.run.requests, verdict.run.failed, verdict.run.unknown) == (7, 1, 1)


def test_records_of_other_runs_are_not_this_runs_concern():
    other = {"x": {"id": "x", "name": "another-run-1", "iata": None}}
    final = stored(0, 1) | other
    assert check(clean(), final, final).valid


def test_an_acknowledged_create_missing_is_lost_and_counted_for_its_fault():
    final = stored(0)  # create 1 (acknowledged at 0.6) is gone
    verdict = check(clean(), final, final, [Fault("before", 0.0, 0.2), Fault("freeze", 0.4, 0.9)])
    assert not verdict.valid
    assert [a.detail for a in verdict.run.lost] == [f"{RUN}-1 (id-1) was acknowledged, is gone"]
    assert [len(f.lost) for f in verdict.faults] == [0, 1]


def test_a_record_deleted_by_an_unknown_delete_may_be_gone_by_a_failed_one_not():
    ops = [create(0, 0.0), create(1, 0.0), delete("id-0", 1.0, outcome=UNKNOWN), delete("id-1", 1.0, outcome=FAILED)]
    verdict = check(history(*ops), {}, {})
    assert [a.detail for a in verdict.run.lost] == [f"{RUN}-1 (id-1) was acknowledged, is gone"]


def test_an_acknowledged_delete_whose_record_is_there_is_resurrected():
    final = stored(0, 1, 2)
    verdict = check(clean(), final, final, [Fault("partition", 1.5, 3.0)])
    assert [a.detail for a in verdict.run.resurrected] == ["id-2 was deleted, is back"]
    assert len(verdict.faults[0].resurrected) == 1 and not verdict.valid


def test_records_nobody_asked_for_are_unexpected():
    final = stored(0, 1, 3, 9)  # 3: its create was refused; 9: nobody created it
    verdict = check(clean(), final, final, [Fault("f", 0.0, 5.0)])
    assert sorted(a.detail for a in verdict.run.unexpected) == [
        f"{RUN}-3 (id-3) exists, its create failed",
        f"{RUN}-9 (id-9) exists, nobody created it",
    ]
    assert len(verdict.faults[0].unexpected) == 1  # the one with no operation belongs to no fault


def test_one_request_stored_twice_is_duplicated():
    final = stored(0, 1, 1, ids=["id-0", "id-1", "id-1b"])
    verdict = check(clean(), final, final)
    assert [a.detail for a in verdict.run.duplicated] == [f"{RUN}-1 stored as ['id-1', 'id-1b']"]
    assert not verdict.valid


def test_an_unknown_create_stored_twice_is_duplicated_too():
    final = stored(0, 1, 4, 4, ids=["id-0", "id-1", "a", "b"])
    verdict = check(clean(), final, final)
    assert len(verdict.run.duplicated) == 1 and len(verdict.run.recovered) == 1


def test_an_acknowledged_create_found_under_another_id_is_lost_and_replaced():
    final = stored(0, 1, ids=["id-0", "other"])
    verdict = check(clean(), final, final)
    assert len(verdict.run.lost) == 1 and not verdict.run.duplicated
    assert [a.detail for a in verdict.run.replaced] == [f"{RUN}-1 acknowledged as id-1, stored as other"]
    assert not verdict.valid


def test_an_acknowledged_create_found_under_two_other_ids_is_lost_and_duplicated():
    final = stored(0, 1, 1, ids=["id-0", "other", "another"])
    verdict = check(clean(), final, final)
    assert len(verdict.run.lost) == 1 and len(verdict.run.duplicated) == 1 and not verdict.run.replaced


def test_an_unknown_create_that_took_effect_is_recovered_and_allowed():
    final = stored(0, 1, 4, ids=["id-0", "id-1", "id-4"])
    verdict = check(clean(), final, final)
    assert verdict.valid
    assert [a.detail for a in verdict.run.recovered] == [f"{RUN}-4 (id-4) took effect"]


def test_a_read_that_misses_an_acknowledged_record_is_caught():
    ops = [
        create(0, 0.0),
        read(0.05, status=404, outcome=FAILED),  # before the create was acknowledged: fine
        read(1.0, status=404, outcome=FAILED),
        delete("id-0", 2.0),
        read(2.05, status=404, outcome=FAILED),  # while it is being deleted: fine
    ]
    verdict = check(history(*ops), {}, {})
    assert [a.at for a in verdict.run.missing_reads] == [1.0] and not verdict.valid


def test_the_read_backs_disagreeing_is_reported():
    api = list(stored(0, 1).values()) + [stored(0)["id-0"]]
    redis = stored(0, 2) | {"id-0": {"id": "id-0", "name": "renamed", "iata": None}}
    verdict = check(history(), api, redis)
    assert verdict.disagreements == [
        "id-0 listed twice by the API",
        f"id-1 ({RUN}-1) listed by the API, not in Redis",
        f"id-2 ({RUN}-2) in Redis, not listed by the API",
        "id-0: the API and Redis differ in name",
    ]
    assert not verdict.valid


def test_the_anomalies_are_counted_on_redis_when_the_api_was_not_read():
    verdict = check(clean(), None, stored(0))
    assert len(verdict.run.lost) == 1 and verdict.disagreements == []


def availability_history():
    """A fault from 10 s to 20 s, under one client's reads: answered in 0.1 s until 10 s, then
    stuck for 10 s (an unknown), then 3 s (ok), then 0.1 s again from 13.1 s to 30 s, but one
    refusal at 15 s. Another client's reads get a 5xx (unknown) at 20.5 s."""
    ops = [read(t / 10, took=0.1) for t in range(0, 100)]  # 0.0 .. 9.9
    ops.append(read(10.0, took=10.0, outcome=UNKNOWN, status=504))
    ops.append(read(20.0, took=3.0))
    ops.append(read(23.0, took=0.1))
    ops += [read(23.1 + t / 10, took=0.1) for t in range(0, 69)]  # 23.1 .. 29.9
    ops.append(read(15.0, took=0.0, outcome=FAILED, status=429))
    ops.append(read(20.5, took=0.5, outcome=UNKNOWN, status=503))
    return history(*ops)


def test_availability_figures_are_exact():
    verdict = check(availability_history(), {}, {}, [Fault("freeze", 10.0, 20.0)])
    fault = verdict.faults[0]
    assert (fault.requests, fault.failed, fault.unknown) == (174, 1, 2)
    # no success from 10.0 (the last fast read's answer) to 23.0 (the 3 s read's)
    assert fault.longest_gap == pytest.approx(13.0)
    # in [10, 15): the stuck read alone; in [20, 25): 3.0, 0.5, 0.1 x 20
    assert fault.p99_after_fault == pytest.approx(10.0)
    assert fault.p99_after_heal == pytest.approx(3.0)
    # the stuck read went out at the start; the refusal at 15 s was fast: noticed at once
    assert fault.notice == pytest.approx(0.0)
    assert verdict.run.longest_gap == pytest.approx(13.0)
    row = table_row(fault)
    assert row == "| freeze | 174 | 1 | 2 | 0 | 0 | 0 | 0 | 0.00 | 10.00 | 3.00 | 13.00 |"


def test_time_to_notice_is_from_the_start_to_the_last_slow_request():
    ops = [read(t, took=0.1) for t in (0.0, 1.0)]
    ops += [read(2.0, took=5.0), read(2.5, took=3.0), read(4.0, took=2.5)]  # slow until 4.0
    ops += [read(t, took=0.2) for t in (4.5, 6.0, 7.5)]  # then fast
    ops.append(read(9.0, took=2.01))  # slow, but after the heal: not the fault's
    verdict = check(history(*ops), {}, {}, [Fault("lossy link", 1.5, 8.0)])
    assert verdict.faults[0].notice == pytest.approx(2.5)
    assert verdict.faults[0].longest_gap == pytest.approx(3.6)  # from 1.1 to 4.7, the first fast answer


def test_a_fault_never_noticed_before_its_heal():
    ops = [read(0.0, took=0.1), read(1.0, took=None, outcome=UNKNOWN), read(1.5, took=9.0)]
    ops += [read(12.0, took=0.1)]
    verdict = check(history(*ops), {}, {}, [Fault("freeze", 1.0, 10.0)])
    fault = verdict.faults[0]
    assert fault.notice is None and fault.p99_after_fault == float("inf")
    assert table_row(fault) == "| freeze | 4 | 0 | 1 | 0 | 0 | 0 | 0 | never | ∞ | 0.10 | 10.40 |"


def test_each_operation_counts_for_one_fault():
    ops = [read(t, took=0.1) for t in range(10)]
    verdict = check(history(*ops), {}, {}, [Fault("b", 6.0, 7.0), Fault("a", 2.0, 3.0)])
    assert [(f.name, f.requests) for f in verdict.faults] == [("a", 6), ("b", 4)]
    assert verdict.run.requests == 10
    lines = table(verdict).splitlines()
    assert lines[0].startswith("| fault | requests | failed | unknown | lost | doubled | resurrected |")
    assert [line.split(" | ")[0] for line in lines[2:]] == ["| a", "| b", "| whole run"]


def test_p99_is_the_nearest_rank():
    assert p99([]) is None
    assert p99([3.0, 1.0, 2.0]) == 3.0
    assert p99(list(range(1, 201))) == 199  # the value at rank int(200 * 0.99) + 1


@pytest.mark.parametrize(
    "status, error, outcome",
    [
        (201, "", OK),
        (204, "", OK),
        (404, "", FAILED),
        (422, "", FAILED),
        (429, "", FAILED),
        (408, "", UNKNOWN),
        (503, "", UNKNOWN),
        (504, "", UNKNOWN),
        (0, "ConnectionRefusedError: [Errno 111] Connection refused", FAILED),
        (0, "TimeoutError: timed out", UNKNOWN),
        (0, "ConnectionResetError: [Errno 104] Connection reset by peer", UNKNOWN),
        (0, "RemoteDisconnected: Remote end closed connection without response", UNKNOWN),
    ],
)
def test_outcomes_of_answers(status, error, outcome):
    assert outcome_of(status, error) == outcome


def test_a_history_saved_and_loaded_is_the_same(tmp_path):
    made = History(RUN)
    pending = made.invoke(3, CREATE, marker=f"{RUN}-1", idempotency_key="k")
    made.complete(pending, 201, record="id-1")
    made.invoke(4, READ, record="id-1")  # never completed
    made.save(tmp_path / "history.jsonl")
    loaded = History.load(tmp_path / "history.jsonl")
    assert loaded.run == RUN and loaded.started_wall == made.started_wall
    assert loaded.operations == made.operations
    first, second = loaded.operations
    assert (first.outcome, first.record, first.idempotency_key) == (OK, "id-1", "k")
    assert (second.outcome, second.completed, second.latency) == (UNKNOWN, None, float("inf"))


def test_a_fault_outcome_reports_disagreements_unless_told_not_to():
    from drills.host_faults import FAULTS, Outcome

    api = list(stored(0, 1).values())
    disagreeing = check(history(create(0, 1.0), create(1, 2.0)), api, stored(0))
    outcome = Outcome(FAULTS["majorities-ring"], {"asgi": disagreeing}, {}, True, 1.0)
    assert outcome.safety_misses(kinds=("doubled", "unexpected")) == [
        f"asgi: the API and Redis disagree: ['id-1 ({RUN}-1) listed by the API, not in Redis']"
    ]
    assert outcome.safety_misses(kinds=("doubled", "unexpected"), disagreements=False) == []
