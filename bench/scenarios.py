"""The scenarios: each is a fixed list of HTTP requests that every connection cycles through.

The list is built from the seeded data (airport ids), so a GET always finds its airport and a
trip always joins two existing, different airports. Load generators start each connection (wrk:
each thread) at a different point of the list.
"""

import json
from dataclasses import dataclass

from bench.stack import REFERENCE


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes | None = None

    def as_dict(self):
        return {"method": self.method, "path": self.path, "body": None if self.body is None else self.body.decode()}


def _json(value):
    return json.dumps(value, separators=(",", ":")).encode()


def get_airport(seed):
    return [Request("GET", f"/airports/{airport_id}") for airport_id in seed.airports]


def create_airport(seed):
    # No IATA code: codes are unique, names are not, so every POST creates a new airport.
    return [Request("POST", "/airports", _json({"name": f"Bench airport {n}"})) for n in range(10)]


def create_trip(seed):
    return [Request("POST", "/trips", _json({"airport_from": a, "airport_to": b})) for a, b in seed.pairs()]


def mix(seed):
    """90% GET /airports/<id>, 10% POST /airports, interleaved (one POST after every nine GETs)."""
    gets, posts = get_airport(seed), create_airport(seed)
    plan = []
    for n, request in enumerate(gets):
        plan.append(request)
        if n % 9 == 8:
            plan.append(posts[(n // 9) % len(posts)])
    if len(plan) < 10:  # fewer than 9 airports seeded: keep the ratio anyway
        plan = (gets * 9)[:9] + posts[:1]
    return plan


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    build: callable
    memory: bool = False  # measured by request counts and gateway RSS rather than for a duration


SCENARIOS = {
    s.name: s
    for s in [
        Scenario("get_airport", "GET /airports/<id> of a seeded airport (one RPC)", get_airport),
        Scenario("create_airport", "POST /airports (one RPC, Redis writes)", create_airport),
        Scenario("create_trip", "POST /trips between two seeded airports (two RPCs: trips asks airports)", create_trip),
        Scenario("mix", "90% GET /airports/<id>, 10% POST /airports", mix),
        Scenario("memory", "the mix, counted: gateway RSS after N1 and after N2 requests", mix, memory=True),
    ]
}

DEFAULT = ["get_airport"]

# Targets that serve only some scenarios' routes: the reference (bench/reference_gateway.py) has
# GET /airports/<id> alone. Other scenarios are not run on it (the report lists them as skipped).
ONLY = {REFERENCE: ("get_airport",)}


def serves(target_name, scenario_name):
    return scenario_name in ONLY.get(target_name, (scenario_name,))
