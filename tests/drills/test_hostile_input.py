"""Hostile and malformed input against the real servers: clean 4xx, and everyone else served.

Both as they ship (the WSGI app on uvicorn: gunicorn's gthread workers read a request's headers in a
worker thread, so a handful of slow clients can hold every thread; README, "Running the gateways")."""

import pytest

from drills.scenarios import hostile_input


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_hostile_input(drill_stack, kind):
    stack = drill_stack(gateways=(kind,))
    report = hostile_input(stack.url(kind))
    assert report.passed, str(report)
