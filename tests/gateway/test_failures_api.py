"""How the gateway answers when the system behind it fails, through both apps: each test on the
broker gets a vhost of its own with only the services it needs (or none). A service failing on
its own account needs no broker: that one is in the fast tier."""

import threading
import time

import pytest

from devstack.processes import wait_for_services
from tests.support import broker
from tests.support.processes import nameko_run, worker_env
from tests.support.servers import amqp_uri

ANY_ID = "a" * 32


@pytest.fixture(params=["asgi", "wsgi"])
def kind(request):
    return request.param


@pytest.fixture(scope="module")
def hung_airports(redis_prefix):
    """An airports_service on a vhost of its own that takes 2 s to answer `get`."""
    vhost = broker.create_vhost("travel-test-hung")
    amqp = amqp_uri(vhost)
    process = nameko_run(
        worker_env(amqp, "redis://unused", redis_prefix, HANG_SECONDS=2), modules=["tests.services.hung"], name="hung"
    )
    try:
        wait_for_services(amqp, ["airports_service"], [process])
        yield amqp
    finally:
        process.kill()
        broker.delete_vhost(vhost)


def timed(call):
    start = time.monotonic()
    result = call()
    return result, time.monotonic() - start


def test_a_service_that_does_not_answer_in_time_is_504(kind, hung_airports, make_live_api, assert_problem):
    api = make_live_api(kind, hung_airports, rpc_timeout=0.5)
    result, elapsed = timed(lambda: api.get(f"/airports/{ANY_ID}"))
    assert_problem(result, 504)
    assert 0.4 < elapsed < 2.5


def test_a_service_that_is_not_running_is_503_at_once(kind, empty_vhost, make_live_api, assert_problem):
    api = make_live_api(kind, empty_vhost)
    result, elapsed = timed(lambda: api.get(f"/airports/{ANY_ID}"))
    assert_problem(result, 503)
    assert elapsed < 1.0
    ready = api.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json["checks"]["airports_service"] == {"ok": False, "detail": "not running on this broker"}


def test_no_broker_is_503_fast_and_not_ready(kind, make_live_api, assert_problem):
    api = make_live_api(kind, "amqp://guest:guest@127.0.0.1:1/", rpc_startup_wait=0.2)
    result, elapsed = timed(lambda: api.get(f"/airports/{ANY_ID}"))
    problem = assert_problem(result, 503)
    assert elapsed < 1.0
    assert result.headers["retry-after"]
    assert "127.0.0.1" not in problem["detail"]
    assert api.get("/health/ready").status_code == 503
    assert api.get("/health/live").status_code == 200


def test_more_requests_than_the_bound_get_a_fast_503_with_retry_after(
    kind, hung_airports, make_live_api, assert_problem
):
    # ASGI: one call in flight at most; WSGI: one proxy, and 0.2 s to wait for it.
    api = make_live_api(
        kind, hung_airports, rpc_max_in_flight=1, rpc_connections=1, rpc_proxies=1, rpc_checkout_timeout=0.2
    )
    first = threading.Thread(target=api.get, args=(f"/airports/{ANY_ID}",))
    first.start()
    time.sleep(0.5)  # the first request is now waiting on the hung service
    result, elapsed = timed(lambda: api.get(f"/airports/{ANY_ID}"))
    problem = assert_problem(result, 503)
    assert problem["type"].endswith(":overloaded")
    assert result.headers["retry-after"] == "1"
    assert elapsed < 1.0
    first.join(10)


@pytest.mark.fast
def test_a_failing_service_is_502_without_internals(api, assert_problem, redis_client, redis_prefix):
    broken = "b0" * 16
    redis_client.set(f"{redis_prefix}{{airports}}:record:{broken}", "{not json")
    problem = assert_problem(api.get(f"/airports/{broken}"), 502)
    assert (
        problem["detail"]
        == "A service failed to handle the request; retry later, and report the request_id if it goes on."
    )
    for leak in ("JSONDecode", "orjson", "Traceback", "workers.", "redis"):
        assert leak not in str(problem)
