"""Redis memory per record: `python -m bench.record_memory [N] [--redis-uri URI]`.

Creates N airports, then N trips (every other one from the same airport, so that one airport
carries N/2 trips), through the real services run in this process (nameko's worker_factory, as
the fast test tier runs them) on an empty Redis database, and prints Redis's `used_memory` growth
per record and the share of it that is idempotency entries (kept an hour for creates without a
key, a day with one). Everything it wrote is deleted at the end. Default: 50,000 on DB 14.
"""

import argparse
import time
import uuid

import redis
from nameko.testing.services import worker_factory

from workers.airports.service import AirportsService
from workers.airports.storage import AirportStore
from workers.runtime.context import IncomingCall
from workers.trips.service import TripsService
from workers.trips.storage import TripStore


def incoming():
    return IncomingCall(request_id=None, delivery_id=uuid.uuid4().hex)


def measure(client, count, prefix=None):
    """The figures for `count` records of each kind, written under `prefix` (then deleted)."""
    prefix = prefix or f"record-memory-{uuid.uuid4().hex[:6]}:"
    try:
        airports = worker_factory(AirportsService, store=AirportStore(client, prefix, {}), incoming=incoming())
        trips = worker_factory(
            TripsService,
            store=TripStore(client, prefix, {}),
            incoming=incoming(),
            airports=airports,
            config={"TRIP_HOLD_DEADLINE": 60, "TRIP_RELEASE_RETRY": 0},
        )
        started, before = time.monotonic(), client.info("memory")["used_memory"]
        ids = []
        for n in range(count):
            airports.incoming = incoming()
            ids.append(airports.create(name=f"Airport {n:07d}")["id"])
        after_airports = client.info("memory")["used_memory"]
        for n in range(count):
            trips.incoming, airports.incoming = incoming(), incoming()
            start = ids[0] if n % 2 else ids[n]
            end = ids[(n + 1) % count] if ids[(n + 1) % count] != start else ids[(n + 2) % count]
            trips.create(airport_from=start, airport_to=end)
        after_trips = client.info("memory")["used_memory"]
        idempotency = sum(client.memory_usage(key) or 0 for key in client.scan_iter(f"{prefix}*idempotency*", 1000))
        return {
            "airport": (after_airports - before) / count,
            "trip": (after_trips - after_airports) / count,
            "idempotency entry": idempotency / (2 * count),
            "seconds": time.monotonic() - started,
        }
    finally:
        for key in client.scan_iter(f"{prefix}*", 1000):
            client.delete(key)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", nargs="?", type=int, default=50_000)
    parser.add_argument("--redis-uri", default="redis://127.0.0.1:6379/14", help="an empty database")
    args = parser.parse_args(argv)
    client = redis.Redis.from_url(args.redis_uri, decode_responses=True)
    try:
        if client.dbsize():
            raise SystemExit(f"{args.redis_uri} is not empty: give an empty database (--redis-uri)")
        figures = measure(client, args.count)
    finally:
        client.close()
    print(
        f"{args.count} airports and {args.count} trips in {figures['seconds']:.0f} s: an airport "
        f"{figures['airport']:.0f} B, a trip {figures['trip']:.0f} B of Redis memory (with its "
        f"indexes, holds and idempotency entry); an idempotency entry {figures['idempotency entry']:.0f} B"
    )


if __name__ == "__main__":
    main()
