"""broker-node-loss's check of the records left after the kills (drills/broker_node_loss.py): a
create that timed out (504) may or may not have happened, so what it may have made is allowed,
once; anything beyond is a record lost, doubled or revived."""

import json

import pytest

from devstack.http import Outcome
from drills.broker_node_loss import _check_records, _Traffic
from drills.report import Report

pytestmark = pytest.mark.fast


class Listings:
    """A gateway that answers the listings only, with the items given."""

    def __init__(self, airports, trips):
        self.airports, self.trips = airports, trips

    def get(self, path):
        if path.startswith("/trips?airport="):
            airport = path.split("=")[1].split("&")[0]
            items = [{"id": t} for t in self.trips.get(airport, [])]
        else:
            items = [{"name": name} for name in self.airports]
        return Outcome("GET", path, 200, 0.0, json.dumps({"items": items, "next_cursor": None}).encode())


@pytest.fixture
def traffic():
    traffic = _Traffic([], 1, "r1")
    traffic.pairs = [("a", "b")]
    traffic.airports = {"drill-r1-seed": "s", "drill-r1-pair-0a": "a", "drill-r1-pair-0b": "b"}
    traffic.trips = {"t1": ("a", "b")}
    return traffic


def checked(traffic, airports, trips):
    report = Report("test")
    _check_records(report, Listings(airports, trips), traffic)
    return report


def test_exactly_the_acknowledged_records_pass(traffic):
    assert checked(traffic, list(traffic.airports), {"a": ["t1"]}).passed


def test_a_trip_whose_create_timed_out_may_exist_once_per_such_create(traffic):
    traffic.trips_unknown["a"] = 1
    assert checked(traffic, list(traffic.airports), {"a": ["t1", "t2"]}).passed
    assert checked(traffic, list(traffic.airports), {"a": ["t1"]}).passed  # or not at all
    report = checked(traffic, list(traffic.airports), {"a": ["t1", "t2", "t3"]})
    assert not report.passed and "1 creates timed out" in report.findings[0]


def test_a_trip_nobody_was_told_about_fails_and_so_does_a_lost_one(traffic):
    assert not checked(traffic, list(traffic.airports), {"a": ["t1", "t2"]}).passed
    assert not checked(traffic, list(traffic.airports), {"a": []}).passed
    assert not checked(traffic, list(traffic.airports), {"a": ["t1", "t1"]}).passed  # doubled


def test_an_airport_whose_create_timed_out_may_exist_but_not_twice(traffic):
    traffic.airports_unknown.add("drill-r1-late")
    assert checked(traffic, [*traffic.airports, "drill-r1-late"], {"a": ["t1"]}).passed
    assert checked(traffic, list(traffic.airports), {"a": ["t1"]}).passed
    assert not checked(traffic, [*traffic.airports, "drill-r1-late", "drill-r1-late"], {"a": ["t1"]}).passed
    assert not checked(traffic, [*traffic.airports, "drill-r1-failed"], {"a": ["t1"]}).passed
