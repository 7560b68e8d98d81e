"""trips_service's requests to airports_service, as the broker delivers them: transient (delivery
mode 1), like the gateway's, since the reply queue that waits for their answers dies with the
broker anyway (workers/trips/service.py).

Runs under `nameko test` (eventlet monkey-patched); see tests/conftest.py.
"""

import pytest
from amqp.serialization import decode_properties_basic
from nameko.standalone.rpc import ClusterRpcProxy

from workers.airports.service import AirportsService
from workers.trips.service import TripsService

pytestmark = pytest.mark.eventlet  # tests/conftest.py says why

BASIC_DELIVER = b"\x00\x3c\x00\x3c"  # class 60, method 60
METHOD, HEADER = 1, 2  # AMQP frame types
CONTENT_HEADER_SIZE = 12  # class id, weight, body size; then the property flags and list


def test_trips_asks_airports_with_transient_messages(container_factory, worker_config, frames_read):
    for service in (AirportsService, TripsService):
        container_factory(service, worker_config).start()
    with ClusterRpcProxy(worker_config) as rpc:
        one = rpc.airports_service.create(name="Transient One")
        two = rpc.airports_service.create(name="Transient Two")
        trip = rpc.trips_service.create(airport_from=one["id"], airport_to=two["id"])
        assert rpc.trips_service.get(trip["id"])["airport_from"] == one["id"]
        rpc.trips_service.delete(trip["id"])
        for airport in (one, two):
            rpc.airports_service.delete(airport["id"])

    modes = {}  # routing key -> delivery modes of the requests delivered with it
    pairs = zip(frames_read, frames_read[1:], strict=False)  # each frame and the one after it
    for (frame_type, channel, payload), (next_type, next_channel, next_payload) in pairs:
        if frame_type == METHOD and payload[:4] == BASIC_DELIVER and next_type == HEADER and next_channel == channel:
            for key in (b"airports_service.hold", b"airports_service.create"):
                if key in payload:
                    properties, _ = decode_properties_basic(next_payload, CONTENT_HEADER_SIZE)
                    modes.setdefault(key, set()).add(properties.get("delivery_mode"))
    assert modes[b"airports_service.hold"] == {1}  # from trips_service
    assert modes[b"airports_service.create"] == {2}  # nameko's standalone proxy persists its own
