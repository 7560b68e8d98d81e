import itertools
import random
import string

import pytest

from gateway.settings import Settings
from tests.support.clients import api_for


def settings_for(amqp, **overrides):
    return Settings(amqp_uri=amqp, **overrides)


@pytest.fixture(scope="session", params=["asgi", "wsgi"])
def api(request, workers, amqp):
    """The API served by the ASGI app, then by the WSGI app, over the session's real workers."""
    client = api_for(request.param, settings_for(amqp, rpc_pool_size=4))
    yield client
    client.close()


@pytest.fixture
def airport(api):
    """Create an airport through the API: airport(name=..., iata=...) -> the record."""
    def create(name="Airport", **fields):
        result = api.post("/airports", json={"name": name, **fields})
        assert result.status_code == 201, result.text
        return result.json
    return create


@pytest.fixture
def trip(api, airport):
    def create(airport_from=None, airport_to=None):
        body = {"airport_from": airport_from or airport()["id"], "airport_to": airport_to or airport()["id"]}
        result = api.post("/trips", json=body)
        assert result.status_code == 201, result.text
        return result.json
    return create


_IATA_CODES = iter(sorted(
    ("".join(code) for code in itertools.product(string.ascii_uppercase, repeat=3)),
    key=lambda _: random.random(),
))


def unique_iata():
    """A three-letter code no other test in this session uses (codes are unique among airports)."""
    return next(_IATA_CODES)
