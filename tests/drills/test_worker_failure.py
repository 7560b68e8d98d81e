"""A worker dies or is stopped under load: nothing the gateway acknowledged is lost or doubled,
no request fails (nameko redelivers unacknowledged calls; creates and changes are idempotent per
delivery), every trip holds the airports it points to, and no hold outlives its trip."""

import signal
import threading

import pytest

from drills.scenarios import worker_failure

pytestmark = pytest.mark.long  # scripts/test --long


@pytest.mark.parametrize("kind, sig", [("asgi", signal.SIGKILL), ("wsgi", signal.SIGKILL), ("asgi", signal.SIGTERM)])
def test_losing_one_of_two_worker_instances_under_load(drill_stack, kind, sig):
    # a short hold deadline, so that the holds of a change the victim took with it are released
    # (by the other instance's timer, every 5 s) within the drill's bound
    stack = drill_stack(instances=2, gateways=(kind,), worker_extra={"TRIP_HOLD_DEADLINE": 3, "TRIP_RELEASE_RETRY": 1})
    victim = stack.workers[0]
    report = worker_failure(stack.url(kind), lambda: victim.signal(sig), duration=6, concurrency=8, released_within=15)
    assert report.passed, str(report)
    assert report.stats["airports_created"] > 50 and report.stats["trips_changed"] > 5
    if sig == signal.SIGTERM:  # a graceful stop: in-flight calls finished, then a clean exit
        assert victim.popen.wait(15) == 0, victim.output()[-2000:]
    assert stack.workers[1].running()


def test_sigterm_lets_in_flight_calls_finish(drill_stack):
    """The only instance is stopped while its calls sleep: they complete, then it exits."""
    stack = drill_stack(
        modules=["tests.services.probe", "tests.services.hung"],
        services=["airports_service"],
        worker_extra={"HANG_SECONDS": 3.5},
        gateways=("asgi",),
    )
    # 3.5 s: longer than nameko takes to close a stopping service's consumer connection (its
    # consumers are cancelled at once, the connection closed within a second or two), so the
    # replies must go out another way (workers/runtime/entrypoint.py)
    from devstack.http import Client

    client = Client(stack.url())
    results = []
    threads = [threading.Thread(target=lambda: results.append(client.get("/airports/" + "a" * 32))) for _ in range(5)]
    [t.start() for t in threads]
    import time

    time.sleep(0.5)
    stack.workers[0].signal(signal.SIGTERM)
    [t.join(20) for t in threads]
    assert [r.status for r in results] == [200] * 5, [r.describe() for r in results]
    assert stack.workers[0].popen.wait(15) == 0
