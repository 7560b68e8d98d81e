"""Data for the scenarios, created through the target's own HTTP API (so it works for a gateway
the harness did not start, too), and a readiness probe that exercises the whole RPC path.

The reference (bench/reference_gateway.py) only reads: see `seed_reference`."""

import http.client
import json
import time
import urllib.parse
from dataclasses import dataclass

NO_SUCH_AIRPORT = "/airports/" + "0" * 32  # a well-formed id that is never issued (ids are random)


@dataclass
class Seed:
    airports: list

    def pairs(self):
        """Trips' ends: each seeded airport to the next one, so every pair is two different airports."""
        ids = self.airports
        return [(ids[n], ids[(n + 1) % len(ids)]) for n in range(len(ids))]


class HttpClient:
    """A keep-alive HTTP/1.1 connection to one base URL, for seeding and probing (not for load)."""

    def __init__(self, url, timeout=10.0):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http":
            raise ValueError(f"only http:// targets are supported, not {url!r}")
        self.host, self.port, self.timeout = parts.hostname, parts.port or 80, timeout
        self.prefix = parts.path.rstrip("/")
        self.connection = None

    def request(self, method, path, body=None):
        """(status, parsed JSON or raw bytes)."""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        data = None if body is None else json.dumps(body).encode()
        for attempt in (1, 2):  # once more on a fresh connection if the kept-alive one was closed
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.connection.request(method, self.prefix + path, body=data, headers=headers)
                response = self.connection.getresponse()
                raw = response.read()
                break
            except (http.client.HTTPException, OSError):
                self.close()
                if attempt == 2:
                    raise
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, raw

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def wait_ready(url, timeout=60.0, alive=lambda: True, describe=lambda: ""):
    """Block until GET /airports/<unknown id> answers 404: the gateway serves HTTP *and* reached
    airports_service over the broker. `alive()` False (the process died) fails at once."""
    client = HttpClient(url, timeout=2.0)
    deadline = time.monotonic() + timeout
    last = "no answer"
    try:
        while True:
            if not alive():
                raise RuntimeError(f"the gateway at {url} exited while starting:\n{describe()}")
            try:
                status, _ = client.request("GET", NO_SUCH_AIRPORT)
                if status == 404:
                    return
                last = f"HTTP {status}"
            except OSError as exc:
                last = f"{type(exc).__name__}: {exc}"
                client.close()
            if time.monotonic() > deadline:
                raise TimeoutError(f"the gateway at {url} was not ready within {timeout:g}s ({last})\n{describe()}")
            time.sleep(0.1)
    finally:
        client.close()


def seed(url, airports=100):
    """Create `airports` airports through POST /airports; their ids."""
    client = HttpClient(url)
    ids = []
    try:
        for n in range(max(2, airports)):
            status, body = client.request("POST", "/airports", {"name": f"Bench seed {n}"})
            if status != 201 or not isinstance(body, dict) or "id" not in body:
                raise RuntimeError(f"seeding {url}: POST /airports answered {status}: {body!r}"[:500])
            ids.append(body["id"])
        # one trip, so the trips path is known to work before it is measured
        status, body = client.request("POST", "/trips", {"airport_from": ids[0], "airport_to": ids[1]})
        if status != 201:
            raise RuntimeError(f"seeding {url}: POST /trips answered {status}: {body!r}"[:500])
    finally:
        client.close()
    return Seed(ids)


def seed_reference(seeds, partners, amqp_uri, airports=100):
    """The reference's Seed: the airports of the first of `partners` (targets writing to the Redis
    prefix it reads) in `seeds`; with no partner, airports created by calling airports_service
    itself over `amqp_uri`, the harness's workers (the reference started on its own)."""
    for name in partners:
        if name in seeds:
            return seeds[name]
    from bench.processes import cluster_rpc

    with cluster_rpc(amqp_uri) as rpc:
        return Seed([rpc.airports_service.create(name=f"Bench seed {n}")["id"] for n in range(max(2, airports))])
