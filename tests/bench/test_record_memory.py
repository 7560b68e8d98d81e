"""`python -m bench.record_memory`: it creates records through the real services, measures, and
leaves nothing behind. (Its figures are BENCHMARKS.md's, never asserted here.)"""

import pytest

from bench.record_memory import measure

pytestmark = pytest.mark.fast


def test_it_measures_airports_trips_and_idempotency_entries_and_cleans_up(redis_client, redis_prefix):
    prefix = f"{redis_prefix}record-memory:"
    figures = measure(redis_client, 20, prefix)
    assert set(figures) == {"airport", "trip", "idempotency entry", "seconds"}
    assert figures["idempotency entry"] > 0  # 40 creates without a key: 40 entries found and sized
    assert not list(redis_client.scan_iter(f"{prefix}*"))
