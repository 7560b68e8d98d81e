"""The travel services' rpc entrypoint and call context, in real nameko containers
(nameko.testing's container_factory and entrypoint_hook) on the test broker and Redis.

Runs under `nameko test` (eventlet monkey-patched); see tests/conftest.py.
"""

import logging

import pytest
from nameko.standalone.rpc import ServiceRpcProxy
from nameko.testing.services import entrypoint_hook

from schemas.errors import NotFound, ServiceUnavailable
from workers.airports import AirportsService
from workers.common.logs import ExpectedErrorFilter, RequestIdFilter
from workers.greeting import GreetingService
from workers.runtime.context import IncomingCallProvider
from workers.runtime.entrypoint import rpc

pytestmark = pytest.mark.eventlet  # tests/conftest.py says why

log = logging.getLogger("probe")


class ProbeService:
    name = "probe_service"
    incoming = IncomingCallProvider()

    @rpc
    def whoami(self):
        log.info("probing")
        return {"request_id": self.incoming.request_id, "delivery_id": self.incoming.delivery_id}


def test_hello_through_entrypoint_hook(container_factory, worker_config):
    container = container_factory(GreetingService, worker_config)
    container.start()
    with entrypoint_hook(container, "hello") as hello:
        assert hello(name="world") == "Hello, world!"


def test_airports_through_entrypoint_hook(container_factory, worker_config):
    container = container_factory(AirportsService, worker_config)
    container.start()
    with entrypoint_hook(container, "create") as create, entrypoint_hook(container, "get") as get:
        record = create(name="Lisbon", iata="LIS")
        assert get(record["id"]) == record
    with entrypoint_hook(container, "get") as get, pytest.raises(NotFound):
        get("f" * 32)


def test_the_delivery_id_is_the_messages_correlation_id_and_cannot_be_spoofed(container_factory, worker_config):
    container_factory(ProbeService, worker_config).start()
    context = {"request_id": "req-1", "delivery_id": "spoofed"}
    with ServiceRpcProxy("probe_service", worker_config, context_data=context, timeout=5) as probe:
        first, second = probe.whoami(), probe.whoami()
    assert first["request_id"] == "req-1"
    assert first["delivery_id"] not in (None, "spoofed")
    assert first["delivery_id"] != second["delivery_id"]


def test_worker_log_records_carry_the_request_id(container_factory, worker_config, caplog):
    container_factory(ProbeService, worker_config).start()
    caplog.handler.addFilter(RequestIdFilter())
    with caplog.at_level(logging.INFO, logger="probe"):
        with ServiceRpcProxy("probe_service", worker_config, context_data={"request_id": "req-42"}, timeout=5) as p:
            p.whoami()
    assert [r.request_id for r in caplog.records if r.name == "probe"] == ["req-42"]


def test_a_redis_outage_reaches_the_caller_as_service_unavailable(container_factory, worker_config):
    config = {**worker_config, "REDIS_URIS": {"travel": "redis://127.0.0.1:1/0"}}
    container_factory(AirportsService, config).start()
    with ServiceRpcProxy("airports_service", config, timeout=10) as airports:
        with pytest.raises(ServiceUnavailable):
            airports.get("f" * 32)
        with pytest.raises(ServiceUnavailable):
            airports.health()


def test_expected_errors_are_logged_without_a_traceback():
    record = logging.LogRecord("nameko.containers", logging.WARNING, __file__, 1, "error", (), None)
    for exc, keeps_traceback in [(NotFound("x"), False), (ServiceUnavailable("x"), True), (KeyError("x"), True)]:
        record.exc_info = (type(exc), exc, None)
        ExpectedErrorFilter().filter(record)
        assert (record.exc_info is not None) == keeps_traceback
