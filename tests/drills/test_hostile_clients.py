"""The hostile-client drill (drills/hostile_clients.py) against both gateways as they ship, on real
workers: forged log lines (read back from the gateway's log, plain and JSON), oversized and
unfinished heads, limits, malformed and untyped bodies, made-up methods and paths, slow clients,
and the rate limit. Everything stays up, memory comes back, others are served meanwhile."""

import pytest

from devstack.http import Client
from drills.hostile_clients import hostile_clients, rate_limit
from drills.report import Report
from tests.support.processes import free_port


@pytest.mark.parametrize("kind, log_format", [("asgi", "plain"), ("wsgi", "json")])
def test_hostile_clients(drill_stack, kind, log_format):
    metrics_port = free_port()
    stack = drill_stack(
        gateways=(kind,),
        # 3 s to send a request, so the slow clients are dropped and come back within the phase
        gateway_extra={
            **{"LOG_LEVEL": "INFO", "LOG_FORMAT": log_format, "REQUEST_READ_TIMEOUT": 3, "THREADS": 8},
            "METRICS_PORT": metrics_port,
        },
    )
    gateway = stack.gateways[0]
    process, url = gateway.process, gateway.url
    metrics_url = f"http://127.0.0.1:{metrics_port}"
    assert Client(url).get("/metrics").status == 404  # off the API's port: on its own
    report = hostile_clients(url, metrics_url=metrics_url, log_path=process.log_path, slow_seconds=5)
    assert report.passed, str(report)
    assert report.stats["slow connections dropped by the gateway"] >= 25  # REQUEST_READ_TIMEOUT did it
    assert process.running()


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_the_rate_limit_in_the_drill(drill_stack, kind):
    stack = drill_stack(gateways=(kind,), gateway_extra={"RATE_LIMIT": "50/60"})
    gateway = stack.gateways[0]
    url = gateway.url
    from devstack.http import Client

    report = Report("rate-limit")
    rate_limit(report, Client(url))
    assert report.passed, str(report)
    assert report.stats["rate limit"].startswith('"default";q=50;w=60: 429')
