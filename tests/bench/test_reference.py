"""The reference target (bench/reference_gateway.py) without running the harness: it reads the
key airports_service writes, stays free of nameko/eventlet, and finds airports to read."""

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from bench.cli import reference_partners
from bench.reference_gateway import record_key
from workers.airports.storage import AirportStore
from workers.common.storage import Keyspace

ROOT = Path(__file__).resolve().parents[2]


def test_record_key_is_the_one_airports_service_writes():
    store = SimpleNamespace(keys=Keyspace("bench-x:", "airports"))
    assert record_key("bench-x:", "abc") == AirportStore.record_key(store, "abc")


def test_the_reference_app_imports_no_nameko_or_eventlet():
    code = (
        "import sys, bench.reference_gateway; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'nameko', 'eventlet', 'workers', 'gateway'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_reference_reads_airports_of_a_target_on_the_same_side():
    targets = ["asgi", "reference", "wsgi"]
    assert reference_partners(targets, {}) == ["asgi", "wsgi"]  # all started here
    assert reference_partners(targets, {"wsgi": "http://w"}) == ["asgi"]  # wsgi writes to another Redis
    assert reference_partners(targets, {"reference": "http://r", "wsgi": "http://w"}) == ["wsgi"]
    assert reference_partners(["reference"], {}) == []  # alone: seeded over RPC
