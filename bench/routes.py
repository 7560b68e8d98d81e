"""Each target's routes for what the harness sends it: the scenarios' requests (bench/scenarios.py),
the seeding and the readiness probe (bench/seed.py).

Every target answers the project's routes but `article`, the article's gateway rebuilt route for route
(bench/article_gateway.py), which answers the article's: GET /airport/<id> for GET /airports/<id>,
POST /airport `{"airport": name}` (the new id as text, 200) for POST /airports `{"name": name}`
(the record, 201), POST /trip for POST /trips. A target given by --url under the name `article` is
taken to be that gateway. The list routes are the project's only (bench/scenarios.py, LISTS).
"""

import json
from dataclasses import dataclass

NO_SUCH_ID = "0" * 32  # a well-formed id that is never issued (ids are random)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes | None = None

    def as_dict(self):
        return {"method": self.method, "path": self.path, "body": None if self.body is None else self.body.decode()}


def json_body(value):
    return json.dumps(value, separators=(",", ":")).encode()


@dataclass(frozen=True)
class ProjectRoutes:
    """The project's: JSON records, 201 on a create, 404 for an unknown id."""

    airport: str = "/airports/{id}"  # GET one
    airports: str = "/airports"  # POST {name_field: name}
    trips: str = "/trips"  # POST {"airport_from", "airport_to"}
    name_field: str = "name"

    def get_airport(self, airport_id):
        return Request("GET", self.airport.format(id=airport_id))

    def create_airport(self, name):
        return Request("POST", self.airports, json_body({self.name_field: name}))

    def create_trip(self, airport_from, airport_to):
        return Request("POST", self.trips, json_body({"airport_from": airport_from, "airport_to": airport_to}))

    def created_id(self, outcome):
        """The id a create answered (a devstack.http Outcome), or None when it did not create."""
        return outcome.json()["id"] if outcome.status == 201 else None

    def ready(self, outcome):
        """Whether the answer to get_airport(NO_SUCH_ID) shows HTTP and RPC both up: the
        workers' NotFound, answered 404."""
        return outcome.status == 404


@dataclass(frozen=True)
class ArticleRoutes(ProjectRoutes):
    """The article's: the new id as text with 200, and nameko's 500 for any error."""

    airport: str = "/airport/{id}"
    airports: str = "/airport"
    trips: str = "/trip"
    name_field: str = "airport"

    def created_id(self, outcome):
        return outcome.body.decode() if outcome.status == 200 else None

    def ready(self, outcome):
        # nameko's answer to any exception is 500 "Error: <type>: <text>"; the workers' NotFound
        # arrives as a RemoteError naming it (an unknown service or a timeout names something else)
        return outcome.status == 500 and b"NotFound" in outcome.body


PROJECT = ProjectRoutes()
ROUTES = {"article": ArticleRoutes()}


def routes_of(target_name):
    return ROUTES.get(target_name, PROJECT)
