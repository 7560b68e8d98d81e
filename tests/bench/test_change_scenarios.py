"""The change scenario (bench/scenarios.py, update_airport): its requests, and the targets it runs on."""

from types import SimpleNamespace

import pytest

from bench.routes import ProjectRoutes
from bench.scenarios import SCENARIOS, serves, skip_reason

pytestmark = pytest.mark.fast

SEED = SimpleNamespace(airports=["a" * 32, "b" * 32])


def test_update_airport_patches_each_seeded_airport_in_turn():
    requests = SCENARIOS["update_airport"].build(SEED, ProjectRoutes())
    assert [(r.method, r.path) for r in requests] == [
        ("PATCH", "/airports/" + "a" * 32),
        ("PATCH", "/airports/" + "b" * 32),
    ]
    assert requests[0].body == b'{"name":"Bench airport 0"}'


@pytest.mark.parametrize("target", ["baseline", "article", "flask", "fastapi", "reference"])
def test_it_runs_on_the_gateway_only(target):
    assert serves("asgi", "update_airport") and serves("wsgi", "update_airport")
    assert serves("my-gateway", "update_airport")  # a --url name that is no kind: taken as the gateway
    assert not serves(target, "update_airport") and skip_reason(target, "update_airport")
