"""SIGTERM to the gateway: requests in flight finish, new connections are refused, then it exits."""

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
