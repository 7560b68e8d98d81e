"""Tracing off (no OTLP endpoint): nothing of OpenTelemetry is even imported, by either gateway
or the workers; and which variables turn it on."""

import os
import subprocess
import sys

import pytest

from telemetry import _enabled
from tests.support.processes import ROOT

PROBE = """
import sys
import gateway.asgi, gateway.wsgi, workers.airports.service, workers.trips.service, workers.greeting.service
loaded = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
print(loaded)
"""


def test_off_imports_no_opentelemetry_at_all():
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["AMQP_URI"] = "amqp://guest:guest@127.0.0.1:1/"  # the WSGI pool probes it; nothing connects
    probe = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", PROBE], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize(
    ("environ", "on"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "x", "OTEL_TRACES_SAMPLER": "always_on"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": " "}, False),
    ],
)
def test_what_turns_it_on(environ, on):
    assert _enabled(environ) is on
