"""More than the gateway should take, and a service that hangs: fast, bounded refusals, no
bookkeeping or memory left behind."""

import pytest

from drills.scenarios import saturation, timeouts
from tests.support import broker
from tests.support.processes import stack_on
from tests.support.servers import amqp_uri

SLOW = "/airports/" + "a" * 32


@pytest.fixture(scope="module")
def hung(redis_prefix):
    """A stand-in airports_service taking 2 s, behind both gateways: the ASGI one lets 20 calls
    wait at most; the WSGI one has 8 proxies and waits 0.2 s for one; RPC timeout 0.5 s."""
    vhost = broker.create_vhost("travel-test-hung")
    try:
        with stack_on(
            amqp_uri(vhost),
            "redis://unused",
            redis_prefix,
            modules=["tests.services.hung"],
            services=["airports_service"],
            worker_extra={"HANG_SECONDS": 2, "MAX_WORKERS": 100},
            gateways=("asgi", "wsgi"),
            gateway_extra={
                "RPC_MAX_IN_FLIGHT": 20,
                "RPC_CONNECTIONS": 8,
                "RPC_PROXIES": 8,
                "THREADS": 64,
                "RPC_CHECKOUT_TIMEOUT": 0.2,
                "RPC_TIMEOUT": 0.5,
            },
        ) as stack:
            yield stack
    finally:
        broker.delete_vhost(vhost)


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_saturation_is_refused_fast_with_retry_after(hung, kind):
    report = saturation(hung.url(kind), SLOW, concurrency=60)
    assert report.passed, str(report)
    assert report.stats["refused"] >= 30


# concurrency: under the ASGI gateway's 20 calls in flight; under the WSGI one's 8 proxies, with
# room for those a timeout retires to be replaced
@pytest.mark.parametrize("kind, concurrency", [("asgi", 12), ("wsgi", 6)])
def test_a_hung_service_times_out_without_leaking(hung, kind, concurrency):
    report = timeouts(hung.url(kind), SLOW, requests=150, concurrency=concurrency, limit=1.5)
    assert report.passed, str(report)
