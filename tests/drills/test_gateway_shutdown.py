"""SIGTERM to the gateway: requests in flight finish, new connections are refused, then it exits;
with SHUTDOWN_GRACE, readiness fails first and everything is served until the grace ends."""

import signal
import threading
import time

import pytest

from devstack.http import Client


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_sigterm_drains_the_gateway(drill_stack, kind):
    stack = drill_stack(
        modules=["tests.services.hung"],
        services=["airports_service"],
        worker_extra={"HANG_SECONDS": 2, "MAX_WORKERS": 20},
        gateways=(kind,),
    )
    [gateway] = stack.gateways
    process, url = gateway.process, gateway.url
    client = Client(url)
    results = []
    threads = [threading.Thread(target=lambda: results.append(client.get("/airports/" + "a" * 32))) for _ in range(5)]
    [t.start() for t in threads]
    time.sleep(0.7)  # all five are now waiting on the slow service
    process.signal(signal.SIGTERM)
    time.sleep(0.5)
    late = Client(url, timeout=10).get("/health/live")  # refused (uvicorn), or never served (gunicorn)
    [t.join(20) for t in threads]
    assert [r.status for r in results] == [200] * 5, [r.describe() for r in results]
    assert late.status == 0, late.describe()
    code = process.popen.wait(15)
    # uvicorn re-raises the signal once it has shut down cleanly, so its status says SIGTERM.
    assert code in (0, -signal.SIGTERM), (code, process.output()[-2000:])
    if kind == "asgi":
        assert "Application shutdown complete" in process.output()


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_with_a_shutdown_grace_readiness_fails_first_and_requests_are_served_until_it_ends(drill_stack, kind):
    grace = 3.0
    stack = drill_stack(gateways=(kind,), gateway_extra={"SHUTDOWN_GRACE": grace})
    [gateway] = stack.gateways
    process, url = gateway.process, gateway.url
    assert Client(url).get("/health/ready").status == 200
    process.signal(signal.SIGTERM)
    signalled = time.monotonic()
    process.signal(signal.SIGTERM)  # a second one (a process group's, say) cuts nothing short
    time.sleep(0.5)  # gunicorn's master passes it on to its workers from its own loop
    during = []
    while time.monotonic() - signalled < grace - 1.0:
        fresh = Client(url, timeout=5)  # a new connection each time: the listener is still open
        during += [fresh.get("/health/ready"), fresh.get("/airports?limit=1")]  # the second calls a service
        time.sleep(0.2)
    ready = [o.status for o in during[::2]]
    assert ready and set(ready) == {503}, ready
    assert during[0].json()["checks"]["shutdown"] == {"ok": False, "detail": "draining"}
    assert {o.status for o in during[1::2]} == {200}, [o.describe() for o in during[1::2]]
    code = process.popen.wait(grace + 15)
    assert time.monotonic() - signalled >= grace - 0.5
    assert code in (0, -signal.SIGTERM), (code, process.output()[-2000:])
