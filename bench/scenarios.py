"""The scenarios: each is a fixed list of HTTP requests that every connection cycles through.

The list is built from the seeded data (airport ids), so a GET always finds its airport and a
trip always joins two existing, different airports, and from the target's routes (bench/routes.py:
the article's gateway has routes of its own). Load generators start each connection (wrk: each
thread) at a different point of the list.
"""

import urllib.parse
from dataclasses import dataclass

from bench import targets
from bench.routes import Request, json_body
from bench.targets import REFERENCE


def get_airport(seed, routes):
    return [routes.get_airport(airport_id) for airport_id in seed.airports]


def create_airport(seed, routes):
    # No IATA code: codes are unique, names are not, so every POST creates a new airport.
    return [routes.create_airport(f"Bench airport {n}") for n in range(10)]


def create_trip(seed, routes):
    return [routes.create_trip(a, b) for a, b in seed.pairs()]


def update_airport(seed, routes):
    """A change of each seeded airport's name in turn (PATCH, a JSON Merge Patch sent as
    application/json, no If-Match): a read, then one Lua script, in airports_service."""
    return [
        Request("PATCH", routes.airport.format(id=airport_id), json_body({"name": f"Bench airport {n % 7}"}))
        for n, airport_id in enumerate(seed.airports)
    ]


def mix(seed, routes):
    """90% GET one airport, 10% create one, interleaved (one POST after every nine GETs)."""
    gets, posts = get_airport(seed, routes), create_airport(seed, routes)
    plan = []
    for n, request in enumerate(gets):
        plan.append(request)
        if n % 9 == 8:
            plan.append(posts[(n // 9) % len(posts)])
    if len(plan) < 10:  # fewer than 9 airports seeded: keep the ratio anyway
        plan = (gets * 9)[:9] + posts[:1]
    return plan


def _listing(path, **query):
    query = {name: value for name, value in query.items() if value is not None}
    return [Request("GET", f"{path}?{urllib.parse.urlencode(query)}" if query else path)]


def _needs(seed, field, scenario):
    value = getattr(seed, field)
    if value is None:
        raise ValueError(f"{scenario}: the seed has no {field} (seeded without lists, or bulk loaded without trips)")
    return value


# The list scenarios take `routes` as the others do, and use none: only targets answering the
# project's list routes run them (LISTS).
def list_airports(seed, routes):
    """The first page, of the default size (20)."""
    return _listing("/airports")


def list_airports_deep(seed, routes):
    """A page deep in the listing: the middle of the bulk-loaded airports, else the second page."""
    return _listing("/airports", cursor=_needs(seed, "airports_cursor", "list_airports_deep"))


def list_trips_by_airport(seed, routes):
    """The first page of the trips of the airport that has the most."""
    return _listing("/trips", airport=_needs(seed, "busy_airport", "list_trips_by_airport"))


def list_trips_by_airport_deep(seed, routes):
    airport = _needs(seed, "busy_airport", "list_trips_by_airport_deep")
    return _listing("/trips", airport=airport, cursor=_needs(seed, "busy_trips_cursor", "list_trips_by_airport_deep"))


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    build: callable  # (Seed, the target's routes: bench/routes.py) -> [Request]
    memory: bool = False  # measured by request counts and gateway RSS rather than for a duration
    lists: bool = False  # needs the list routes (and a seed with list data: bench/seed.py)
    changes: bool = False  # needs the PATCH routes


SCENARIOS = {
    s.name: s
    for s in [
        Scenario(
            "get_airport", "GET /airports/<id> (article: /airport/<id>) of a seeded airport (one RPC)", get_airport
        ),
        Scenario("create_airport", "POST /airports (article: /airport) (one RPC, Redis writes)", create_airport),
        Scenario(
            "create_trip",
            "POST /trips (article: /trip) between two seeded airports (two RPCs: trips asks airports)",
            create_trip,
        ),
        Scenario(
            "update_airport",
            "PATCH /airports/<id>: a seeded airport's name (one RPC: a read, a Lua script)",
            update_airport,
            changes=True,
        ),
        Scenario("mix", "90% GET one airport, 10% POST one (the target's routes, as in get_/create_airport)", mix),
        Scenario("memory", "the mix, counted: gateway RSS after N1 and after N2 requests", mix, memory=True),
        Scenario("list_airports", "GET /airports: the first page (20)", list_airports, lists=True),
        Scenario(
            "list_airports_deep",
            "GET /airports?cursor=: a page deep in the list (the middle of --data-size, else the 2nd)",
            list_airports_deep,
            lists=True,
        ),
        Scenario(
            "list_trips_by_airport",
            "GET /trips?airport=: the first page of the airport with the most trips",
            list_trips_by_airport,
            lists=True,
        ),
        Scenario(
            "list_trips_by_airport_deep",
            "GET /trips?airport=&cursor=: a page deep in that airport's trips",
            list_trips_by_airport_deep,
            lists=True,
        ),
    ]
}

DEFAULT = ["get_airport"]

# Targets that serve only some scenarios' routes: the reference (bench/reference_gateway.py) has
# GET /airports/<id> alone. Other scenarios are not run on it (the report lists them as skipped).
ONLY = {REFERENCE: ("get_airport",)}
# The kinds of target that serve the list routes (GET /airports, GET /trips?airport=): the gateway
# and the baseline (bench/baseline_gateway.py, which has them in the article's design). Other kinds
# (the reference; the article's gateway, which has none; peers serving get and create only) are
# not given the `lists` scenarios. A
# target given by --url under a name that is no kind is taken to be the full gateway.
LISTS = frozenset({"asgi", "wsgi", "baseline"})
# The kinds that serve the changes (PATCH): the gateway's two apps only.
CHANGES = frozenset({"asgi", "wsgi"})


def serves(target_name, scenario_name):
    return skip_reason(target_name, scenario_name) is None


def skip_reason(target_name, scenario_name):
    """Why `target_name` does not run `scenario_name`, or None when it does."""
    if target_name in ONLY:
        if scenario_name in ONLY[target_name]:
            return None
        return f"{target_name} serves only {', '.join(ONLY[target_name])}"
    scenario = SCENARIOS.get(scenario_name)
    if scenario is not None and scenario.lists and target_name not in LISTS and target_name in targets.KINDS:
        return f"{target_name} has no list routes"
    if scenario is not None and scenario.changes and target_name not in CHANGES and target_name in targets.KINDS:
        return f"{target_name} has no PATCH routes"
    return None
