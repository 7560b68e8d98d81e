"""The list scenarios (bench/scenarios.py): their requests, the seed they need, and which targets
run them (those with list routes), without running the harness."""

import urllib.parse
from types import SimpleNamespace

import pytest

from bench import scenarios, targets
from bench.cli import choose, parser, seed_targets
from bench.routes import PROJECT
from bench.scenarios import SCENARIOS, serves, skip_reason
from bench.seed import Seed, with_bulk

AIRPORT, OTHER = "a" * 32, "b" * 32
LISTS = ["list_airports", "list_airports_deep", "list_trips_by_airport", "list_trips_by_airport_deep"]
SEED = Seed([AIRPORT, OTHER], busy_airport=AIRPORT, airports_cursor="YWlycG9ydHM6NTAx", busy_trips_cursor="dHJpcHM")


def requests(name, seed=SEED):
    return [(r.method, r.path, r.body) for r in SCENARIOS[name].build(seed, PROJECT)]


def test_each_list_scenario_is_one_get_of_its_page():
    assert requests("list_airports") == [("GET", "/airports", None)]
    assert requests("list_airports_deep") == [("GET", "/airports?cursor=YWlycG9ydHM6NTAx", None)]
    assert requests("list_trips_by_airport") == [("GET", f"/trips?airport={AIRPORT}", None)]
    [(method, path, body)] = requests("list_trips_by_airport_deep")
    split = urllib.parse.urlsplit(path)
    assert (method, split.path, body) == ("GET", "/trips", None)
    assert urllib.parse.parse_qs(split.query) == {"airport": [AIRPORT], "cursor": ["dHJpcHM"]}
    assert all(SCENARIOS[name].lists for name in LISTS)
    assert not any(s.lists for s in SCENARIOS.values() if s.name not in LISTS)


def test_a_list_scenario_says_what_the_seed_lacks():
    with pytest.raises(ValueError, match="airports_cursor"):
        SCENARIOS["list_airports_deep"].build(Seed([AIRPORT, OTHER]), PROJECT)
    with pytest.raises(ValueError, match="busy_airport"):
        SCENARIOS["list_trips_by_airport"].build(Seed([AIRPORT, OTHER]), PROJECT)
    assert requests("get_airport", Seed([AIRPORT, OTHER])) == [
        ("GET", f"/airports/{AIRPORT}", None),
        ("GET", f"/airports/{OTHER}", None),
    ]  # the other scenarios need nothing new


def test_a_bulk_load_puts_its_cursors_in_the_seed():
    bulk = SimpleNamespace(busy_airport=OTHER, airports_cursor="deep", busy_trips_cursor="deeper")
    assert with_bulk(SEED, bulk) == Seed(SEED.airports, OTHER, "deep", "deeper")
    assert with_bulk(SEED, None) is SEED
    # a busy airport without its cursor is not taken: the seed's pair stays together
    partial = SimpleNamespace(busy_airport=OTHER, airports_cursor=None, busy_trips_cursor=None)
    assert with_bulk(SEED, partial) == SEED


def test_list_scenarios_run_on_targets_with_list_routes(monkeypatch):
    for name in LISTS:
        assert serves("asgi", name) and serves("wsgi", name) and serves("baseline", name)
        assert not serves("reference", name)
        assert skip_reason("reference", name) == "reference serves only get_airport"
        assert serves("my-gateway", name)  # a --url name that is no kind: taken as the full gateway
    # a kind without list routes (the peers, once bench/targets.py knows them) gets get/create only
    monkeypatch.setattr(targets, "KINDS", (*targets.KINDS, "flask"))
    assert not serves("flask", "list_airports") and skip_reason("flask", "list_airports") == "flask has no list routes"
    assert serves("flask", "get_airport") and serves("flask", "create_trip")
    assert scenarios.LISTS == {"asgi", "wsgi", "baseline"}


def test_the_harness_skips_list_scenarios_where_they_are_not_served():
    args = parser().parse_args(["--targets", "asgi,reference", "--scenarios", "get_airport,list_airports"])
    targets, names, serving, skipped = choose(args, {})
    assert serving == ["asgi", "reference"]
    assert skipped == [
        {"target": "reference", "scenario": "list_airports", "reason": "reference serves only get_airport"}
    ]
    assert parser().parse_args(["--data-size", "1000"]).data_size == 1000


def test_seeding_for_lists_takes_the_bulk_cursors_when_it_has_them_all(monkeypatch):
    calls = []

    def fake_seed(url, airports, lists, routes):
        calls.append((url, lists))
        return Seed([AIRPORT, OTHER], busy_airport=AIRPORT if lists else None)

    monkeypatch.setattr("bench.cli.seed", fake_seed)
    targets = {name: SimpleNamespace(url=f"http://{name}") for name in ("asgi", "flask")}
    fake_stack = SimpleNamespace(targets=targets, options=None)
    bulk = SimpleNamespace(busy_airport=OTHER, airports_cursor="x", busy_trips_cursor="y", complete=True)
    seeds = seed_targets(fake_stack, ["asgi", "flask"], 100, lists=["asgi"], bulk=bulk)
    assert seeds["asgi"].busy_airport == OTHER and calls == [("http://asgi", False), ("http://flask", False)]
    calls.clear()
    seeds = seed_targets(fake_stack, ["asgi", "flask"], 100, lists=["asgi"])  # through the API, where served
    assert seeds["asgi"].busy_airport == AIRPORT and calls == [("http://asgi", True), ("http://flask", False)]
    calls.clear()
    assert seed_targets(fake_stack, ["asgi"], 100)["asgi"].busy_airport is None and calls == [("http://asgi", False)]
