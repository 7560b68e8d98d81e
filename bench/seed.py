"""Data for the scenarios, created through the target's own HTTP API (so it works for a gateway
the harness did not start, too), and a readiness probe that exercises the whole RPC path.

The reference (bench/reference_gateway.py) only reads: see `seed_reference`."""

import time
from dataclasses import dataclass

from devstack.http import Client

NO_SUCH_AIRPORT = "/airports/" + "0" * 32  # a well-formed id that is never issued (ids are random)


@dataclass
class Seed:
    airports: list

    def pairs(self):
        """Trips' ends: each seeded airport to the next one, so every pair is two different airports."""
        ids = self.airports
        return [(ids[n], ids[(n + 1) % len(ids)]) for n in range(len(ids))]


def wait_ready(url, timeout=60.0, alive=lambda: True, describe=lambda: ""):
    """Block until GET /airports/<unknown id> answers 404: the gateway serves HTTP *and* reached
    airports_service over the broker. `alive()` False (the process died) fails at once."""
    client = Client(url, timeout=2.0)
    deadline = time.monotonic() + timeout
    last = "no answer"
    try:
        while True:
            if not alive():
                raise RuntimeError(f"the gateway at {url} exited while starting:\n{describe()}")
            outcome = client.get(NO_SUCH_AIRPORT)
            if outcome.status == 404:
                return
            last = f"HTTP {outcome.status}" if outcome.status else outcome.error
            if time.monotonic() > deadline:
                raise TimeoutError(f"the gateway at {url} was not ready within {timeout:g}s ({last})\n{describe()}")
            time.sleep(0.1)
    finally:
        client.reset()


def seed(url, airports=100):
    """Create `airports` airports through POST /airports; their ids."""
    client = Client(url, timeout=10.0)
    ids = []
    try:
        for n in range(max(2, airports)):
            outcome = client.post("/airports", {"name": f"Bench seed {n}"})
            if outcome.status != 201:
                raise RuntimeError(f"seeding {url}: {outcome.describe()}"[:500])
            ids.append(outcome.json()["id"])
        # one trip, so the trips path is known to work before it is measured
        outcome = client.post("/trips", {"airport_from": ids[0], "airport_to": ids[1]})
        if outcome.status != 201:
            raise RuntimeError(f"seeding {url}: {outcome.describe()}"[:500])
    finally:
        client.reset()
    return Seed(ids)


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
