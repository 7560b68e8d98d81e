"""Data for the scenarios, created through the target's own HTTP API (so it works for a gateway
the harness did not start, too), and a readiness probe that exercises the whole RPC path.

The reference (bench/reference_gateway.py) only reads: see `seed_reference`."""

import time
import urllib.parse
from dataclasses import dataclass, replace

from bench.routes import NO_SUCH_ID, PROJECT
from devstack.http import Client
from schemas.fields import DEFAULT_PAGE_SIZE

# Trips seeded from one airport for the list scenarios when nothing is bulk loaded: two full pages
LIST_TRIPS = 2 * DEFAULT_PAGE_SIZE
JSON = {"Content-Type": "application/json"}


@dataclass
class Seed:
    airports: list
    # For the list scenarios (bench/scenarios.py), when asked for: the airport with the most
    # trips, and cursors deep into GET /airports and GET /trips?airport=<busy_airport>. Either a
    # real second page found through the API (`seed(..., lists=True)`) or the middle of what
    # bench/bulk_load.py loaded (`with_bulk`).
    busy_airport: str | None = None
    airports_cursor: str | None = None
    busy_trips_cursor: str | None = None

    def pairs(self):
        """Trips' ends: each seeded airport to the next one, so every pair is two different airports."""
        ids = self.airports
        return [(ids[n], ids[(n + 1) % len(ids)]) for n in range(len(ids))]


def wait_ready(url, timeout=60.0, alive=lambda: True, describe=lambda: "", routes=PROJECT):
    """Block until a GET of an unknown airport answers as `routes` say it does once the gateway
    serves HTTP *and* reached airports_service over the broker (404 on the project's routes).
    `alive()` False (the process died) fails at once."""
    client = Client(url, timeout=2.0)
    probe = routes.get_airport(NO_SUCH_ID)
    deadline = time.monotonic() + timeout
    last = "no answer"
    try:
        while True:
            if not alive():
                raise RuntimeError(f"the gateway at {url} exited while starting:\n{describe()}")
            outcome = client.get(probe.path)
            if routes.ready(outcome):
                return
            last = f"HTTP {outcome.status}" if outcome.status else outcome.error
            if time.monotonic() > deadline:
                raise TimeoutError(f"the gateway at {url} was not ready within {timeout:g}s ({last})\n{describe()}")
            time.sleep(0.1)
    finally:
        client.reset()


def seed(url, airports=100, lists=False, routes=PROJECT):
    """Create `airports` airports and one trip through the target's `routes`; a Seed of their ids.
    With `lists`, LIST_TRIPS trips from the first airport instead, and the list scenarios' cursors:
    each the `next_cursor` of a real first page (of half the airports when there is no second page
    of DEFAULT_PAGE_SIZE), so that the deep page is a second one."""
    client = Client(url, timeout=10.0)
    ids = []
    try:
        for n in range(max(2, airports)):
            ids.append(_created(client, url, routes, routes.create_airport(f"Bench seed {n}")))
        # a trip, so the trips path is known to work before it is measured
        for n in range(LIST_TRIPS if lists else 1):
            _created(client, url, routes, routes.create_trip(ids[0], ids[1 + n % (len(ids) - 1)]))
        if not lists:
            return Seed(ids)
        return Seed(
            ids,
            busy_airport=ids[0],
            airports_cursor=_second_page(client, url, "/airports", {}),
            busy_trips_cursor=_second_page(client, url, "/trips", {"airport": ids[0]}),
        )
    finally:
        client.reset()


def _created(client, url, routes, request):
    """The id of what `request` (a create) made."""
    outcome = client.request(request.method, request.path, body=request.body, headers=JSON)
    created = routes.created_id(outcome)
    if created is None:
        raise RuntimeError(f"seeding {url}: {outcome.describe()}"[:500])
    return created


def _second_page(client, url, path, query):
    """The cursor of the page after the first of `path` (a full page when there are enough)."""
    page = _page(client, url, path, query, DEFAULT_PAGE_SIZE)
    if page["next_cursor"] is None and len(page["items"]) > 1:  # one page holds it all: split it
        page = _page(client, url, path, query, len(page["items"]) // 2)
    if page["next_cursor"] is None:
        raise RuntimeError(f"seeding {url}: GET {path} has no second page")
    return page["next_cursor"]


def _page(client, url, path, query, limit):
    outcome = client.get(f"{path}?{urllib.parse.urlencode({**query, 'limit': limit})}")
    if outcome.status != 200:
        raise RuntimeError(f"seeding {url}: {outcome.describe()}"[:500])
    return outcome.json()


def with_bulk(seed, bulk):
    """`seed` with the list scenarios' airport and cursors taken from a bench.bulk_load.BulkLoad
    (those it has; the busy airport only with its cursor): deep in the loaded data rather than on
    a second page. `bulk` None: `seed` as it is."""
    if bulk is None:
        return seed
    found = {}
    if bulk.airports_cursor is not None:
        found["airports_cursor"] = bulk.airports_cursor
    if bulk.busy_airport is not None and bulk.busy_trips_cursor is not None:
        found.update(busy_airport=bulk.busy_airport, busy_trips_cursor=bulk.busy_trips_cursor)
    return replace(seed, **found)


def seed_reference(seeds, partners, amqp_uri, airports=100):
    """The reference's Seed: the airports of the first of `partners` (targets writing to the Redis
    prefix it reads) in `seeds`; with no partner, airports created by calling airports_service
    itself over `amqp_uri`, the harness's workers (the reference started on its own)."""
    for name in partners:
        if name in seeds:
            return seeds[name]
    from devstack.processes import cluster_rpc

    with cluster_rpc(amqp_uri) as rpc:
        return Seed([rpc.airports_service.create(name=f"Bench seed {n}")["id"] for n in range(max(2, airports))])
