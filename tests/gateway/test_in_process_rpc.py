"""The fast tier's RPC (tests/support/inprocess.py) keeps the promises the real path makes, so that
the API tests on it mean what they say: a fresh correlation id per call, the wire's refusals
(no such service, method or signature) and a missing airports_service behind trips_service."""

import logging

import pytest
from nameko.exceptions import IncorrectSignature, MethodNotFound

from gateway.rpc.calls import Caller, RpcCall, UnknownService
from tests.support.clients import in_process_api
from tests.support.inprocess import AsyncInProcessRpc, InProcessRpc, InProcessServices
from workers.common.logs import RequestIdFilter

pytestmark = pytest.mark.fast

CALLER = Caller("req-in-process", "testOperation")


@pytest.fixture
def api_hosting(redis_uri, redis_prefix):
    """api_hosting(kind, *services): an Api over only these services ("airports", "trips",
    "greeting"), as if the others had never run on the broker; closed after the test."""
    made = []

    def make(kind, *services):
        hosted = InProcessServices(redis_uri, redis_prefix, services=services)
        made.append((in_process_api(kind, hosted), hosted))
        return made[-1][0]

    yield make
    for api, hosted in made:
        api.close()
        hosted.close()


def test_each_create_without_a_key_is_a_call_of_its_own(api):
    # Keyless creates are keyed on the call's correlation id: one shared id would make the second
    # create a replay of the first.
    first = api.post("/airports", json={"name": "Twin"}).json
    second = api.post("/airports", json={"name": "Twin"}).json
    assert first["id"] != second["id"]


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_a_service_that_is_not_hosted_is_503_and_not_ready(kind, api_hosting, assert_problem):
    api = api_hosting(kind, "trips", "greeting")
    assert_problem(api.get("/airports/" + "a" * 32), 503)
    ready = api.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json["checks"]["airports_service"] == {"ok": False, "detail": "not running on this broker"}
    assert ready.json["checks"]["trips_service"] == {"ok": True}


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_trips_service_without_airports_service_is_503(kind, api_hosting, assert_problem):
    api = api_hosting(kind, "trips")
    body = {"airport_from": "a" * 32, "airport_to": "b" * 32}
    problem = assert_problem(api.post("/trips", json=body), 503)
    assert problem["detail"] == "airports_service is not running."


def test_both_clients_refuse_as_the_wire_does(services):
    sync = InProcessRpc(services)
    with pytest.raises(UnknownService):
        sync.call(RpcCall("nobody_service", "health"), CALLER)

    with pytest.raises(MethodNotFound):
        sync.call(RpcCall("airports_service", "_check_ids"), CALLER)  # a method, but no entrypoint
    with pytest.raises(IncorrectSignature):
        sync.call(RpcCall("airports_service", "get", {"airport": "a" * 32}), CALLER)
    assert sync.call(RpcCall("greeting_service", "hello", {"name": "world"}), CALLER) == "Hello, world!"


async def test_the_async_client_answers_as_the_sync_one(services):
    rpc = AsyncInProcessRpc(services)
    await rpc.start()
    assert await rpc.wait_connected(0) and rpc.connected
    assert await rpc.call(RpcCall("greeting_service", "hello", {"name": "world"}), CALLER) == "Hello, world!"
    with pytest.raises(UnknownService):
        await rpc.call(RpcCall("nobody_service", "health"), CALLER)
    await rpc.close()


@pytest.fixture
def trips_log():
    """The records trips_service logs, labelled as config.yml's RequestIdFilter labels them."""
    records = []
    handler = logging.Handler(logging.WARNING)
    handler.addFilter(RequestIdFilter())
    handler.emit = records.append
    logger = logging.getLogger("workers.trips.service")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_the_request_id_reaches_the_worker(kind, api_hosting, trips_log):
    full = api_hosting(kind, "airports", "trips")
    ends = [full.post("/airports", json={"name": name}).json["id"] for name in ("From", "To")]
    trip = full.post("/trips", json={"airport_from": ends[0], "airport_to": ends[1]}).json
    # without airports_service, trips_service deletes the trip and logs that its holds wait for
    # the release timer: a log line of the trips worker, during its call
    without_airports = api_hosting(kind, "trips")
    request_id = f"req-{kind}-release"
    deleted = without_airports.delete(f"/trips/{trip['id']}", headers={"X-Request-ID": request_id})
    assert deleted.status_code == 204
    [record] = [r for r in trips_log if trip["id"] in r.getMessage()]
    assert "not released yet" in record.getMessage()
    assert record.request_id == request_id
