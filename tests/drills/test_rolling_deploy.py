"""`python -m drills rolling-deploy`: gateways of both kinds behind haproxy, replaced one at a time
under mixed load, then the workers: with SHUTDOWN_GRACE no request fails (docs/operations.md has
the figures without it). Needs haproxy (Debian; scripts/test installs it) and rabbitmqctl."""

import shutil

import pytest

from drills.rolling_deploy import haproxy_config, rolling_deploy
from tests.support.servers import AMQP_BASE, REDIS_URI

pytestmark = pytest.mark.long  # scripts/test --long


def test_a_rolling_deploy_of_both_gateway_kinds_and_the_workers_fails_no_request():
    if shutil.which("haproxy") is None:
        pytest.fail("haproxy is not installed (Debian: apt-get install haproxy; scripts/test installs it)")
    # a grace of 3 s: haproxy takes a gateway out within about 1 s of its readiness failing
    reports = rolling_deploy(
        ("asgi", "wsgi"), amqp_base=AMQP_BASE, redis_uri=REDIS_URI, grace=3.0, concurrency=6, settle=1.0
    )
    assert [report.passed for report in reports] == [True, True], "\n".join(map(str, reports))
    assert [report.stats["gateways_replaced"] for report in reports] == [2, 2]
    assert reports[-1].stats["workers_replaced"] == 2
    assert all(report.stats["requests"] > 500 for report in reports), "\n".join(map(str, reports))


def test_the_balancer_checks_readiness_and_redispatches():
    config = haproxy_config(8080, 8081, [("g0", 9000), ("g1", 9001)])
    assert "option httpchk GET /health/ready" in config and "option redispatch" in config
    assert "retries 3" in config and "server g1 127.0.0.1:9001 check" in config
