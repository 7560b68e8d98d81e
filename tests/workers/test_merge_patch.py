"""RFC 7396 on the services' flat records (workers/common/records.py, `merged`)."""

import pytest

from workers.common.records import merged

pytestmark = pytest.mark.fast

AIRPORT = {"id": "f" * 32, "name": "Lisbon", "iata": "LIS", "created_at": "2026-11-27T09:30:00.000Z"}


@pytest.mark.parametrize(
    "patch, expected",
    [
        ({}, AIRPORT),
        ({"name": "Lisboa"}, {**AIRPORT, "name": "Lisboa"}),
        ({"iata": None}, {**AIRPORT, "iata": None}),  # RFC 7396's removal: none, for these records
        ({"name": "Lisboa", "iata": "LPT"}, {**AIRPORT, "name": "Lisboa", "iata": "LPT"}),
    ],
)
def test_each_member_of_the_patch_replaces_the_records_and_the_rest_stays(patch, expected):
    assert merged(AIRPORT, patch) == expected
    assert list(merged(AIRPORT, patch)) == list(AIRPORT)  # the members keep their order (and the ETag its input)
