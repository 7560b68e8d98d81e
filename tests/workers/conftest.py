import uuid

import pytest

from workers.airports.storage import AirportStore
from workers.runtime import publishing
from workers.runtime.context import IncomingCall
from workers.trips.storage import TripStore


@pytest.fixture
def prefix(redis_prefix):
    """A key prefix per test, inside the session's, so tests never see each other's records."""
    return f"{redis_prefix}{uuid.uuid4().hex[:6]}:"


@pytest.fixture
def airport_store(redis_client, prefix):
    return AirportStore(redis_client, prefix, {})


@pytest.fixture
def trip_store(redis_client, prefix):
    return TripStore(redis_client, prefix, {})


@pytest.fixture
def incoming_call():
    """incoming_call(delivery_id=None, request_id=None) -> the IncomingCall a worker sees for a
    request with those ids."""
    return lambda delivery_id=None, request_id=None: IncomingCall(request_id=request_id, delivery_id=delivery_id)


@pytest.fixture
def renewals(monkeypatch):
    """The times the pooled connections nameko publishes on were renewed (workers/common/
    publishing.py), counted instead of done; the once-a-second limit starts afresh."""
    renewed = []

    class Pool:
        limit = 10

        def resize(self, limit, reset=False):
            renewed.append((limit, reset))

    monkeypatch.setattr(publishing, "publishing_pool", lambda config: Pool())
    monkeypatch.setattr(publishing._Renewal, "last", float("-inf"))
    return renewed
