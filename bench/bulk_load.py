"""Bulk load: N airports and N trips written straight into a Redis key prefix, as the services
would have written them, so the benchmark can measure how per-request cost grows with the data.

    python -m bench.bulk_load --redis-uri redis://127.0.0.1:6379/0 --prefix bench-x: --count 1000000

The services' own `create` methods make every record (nameko's `worker_factory`, stores replaced
by collecting stand-ins); the loader writes what the stores' Lua scripts would have written with
plain pipelined commands, many records each, under the stores' own key names. One airport is
"busy" (`busy_trips` of the trips). The result names a sample of airport ids, the busy airport,
and cursors for a page in the middle of /airports and of /trips?airport=<busy>. Which keys are
written, which are not, and how the trips are spread: docs/design.md, "Bulk load".
"""

import argparse
import json
import sys
import time
import warnings
from collections import defaultdict
from dataclasses import asdict, dataclass, field

from workers.common.paging import encode_cursor
from workers.common.records import dumps

BUSY_TRIPS = 100_000  # the busy airport's trips once there are this many (the benchmark issue's figure)
BATCH = 5_000  # records per pipeline: about 10,000 commands for trips (their airports' sets)
SAMPLE = 100  # airport ids handed back for GET scenarios


def default_busy_trips(trips):
    return BUSY_TRIPS if trips >= BUSY_TRIPS else trips // 10


@dataclass
class BulkLoad:
    """What was loaded, and what the scenarios need of it."""

    prefix: str
    airports: int
    trips: int
    busy_airport: str | None
    busy_trips: int
    sample_airports: list = field(default_factory=list)
    airports_cursor: str | None = None  # /airports?cursor=: the page after the middle airport
    busy_trips_cursor: str | None = None  # /trips?airport=<busy>&cursor=: after its middle trip
    seconds: float = 0.0
    memory_bytes: int = 0  # Redis used_memory growth (other users of the server count too)
    commands: int = 0

    def as_dict(self):
        return asdict(self)

    def summary(self):
        """For the report's meta: all but the sample of ids."""
        return {key: value for key, value in self.as_dict().items() if key != "sample_airports"}

    @property
    def complete(self):
        """Whether it has all the list scenarios need (bench/seed.py's with_bulk)."""
        return None not in (self.airports_cursor, self.busy_airport, self.busy_trips_cursor)

    def describe(self):
        rate = (self.airports + self.trips) / self.seconds if self.seconds else 0
        return (
            f"{self.airports:,} airports and {self.trips:,} trips ({self.busy_trips:,} of them with the busy "
            f"airport) in {self.seconds:.1f} s ({rate:,.0f} records/s, {self.commands:,} commands); "
            f"Redis memory +{self.memory_bytes / 2**20:,.1f} MiB"
        )


class Batch:
    """Writes collected for one pipeline, grouped by key so that one command carries many records."""

    def __init__(self):
        self.strings = {}
        self.zsets = defaultdict(dict)  # key -> {member: score}
        self.sets = defaultdict(list)  # key -> members
        self.hashes = defaultdict(dict)  # key -> {field: value}
        self.records = 0

    def write(self, client):
        """Send it in one pipeline; the number of commands."""
        pipe = client.pipeline(transaction=False)
        if self.strings:
            pipe.mset(self.strings)
        for key, members in self.zsets.items():
            pipe.zadd(key, members)
        for key, members in self.sets.items():
            pipe.sadd(key, *members)
        for key, mapping in self.hashes.items():
            pipe.hset(key, mapping=mapping)
        commands = len(pipe)
        if commands:
            pipe.execute()
        self.__init__()
        return commands


class _Once:
    """The stores' idempotency, for records that are each created once: the create runs, and its
    entry (which expires anyway) is not written."""

    def write_once(self, incoming, idempotency_key, payload, write):
        return write(None)


class _Collecting:
    """A store stand-in: the real store's key names, a batch to collect its writes in, the last
    sequence its creates handed out, and idempotency that lets each create run once."""

    def __init__(self, store, batch):
        self.keys, self.record_key = store.keys, store.record_key
        self.batch = batch
        self.seq = 0
        self.idempotency = _Once()


class AirportWrites(_Collecting):
    """AirportStore's writes (create, hold), collected in `batch` as their scripts make them."""

    def create(self, record, attempt):  # _CREATE: INCR seq, SET record, ZADD index, SET iata
        self.seq += 1
        self.batch.strings[self.record_key(record["id"])] = dumps(record)
        self.batch.zsets[self.keys("index")][record["id"]] = self.seq
        if record["iata"]:
            self.batch.strings[self.keys("iata", record["iata"])] = record["id"]
        self.batch.records += 1
        return "created", None

    def hold(self, airport_ids, holder):  # _HOLD: SADD holders:<id> for each (all exist: loaded first)
        for airport_id in airport_ids:
            self.batch.sets[self.keys("holders", airport_id)].append(holder)
        return []


class TripWrites(_Collecting):
    """TripStore's writes for a trip that is created (intend, then create), collected in `batch`."""

    def intend(self, trip_id, airport_ids, deadline_ms, *, cause=""):
        # _INTEND: HSET holds, ZADD unconfirmed (which _CREATE's ZREM undoes), HSET causes
        self.batch.hashes[self.keys("holds")][trip_id] = dumps(airport_ids)
        if cause:
            self.batch.hashes[self.keys("causes")][trip_id] = cause

    def create(self, record, attempt):  # _CREATE: INCR seq, SET record, ZADD index and by_airport x2
        self.seq += 1
        trip_id = record["id"]
        self.batch.strings[self.record_key(trip_id)] = dumps(record)
        self.batch.zsets[self.keys("index")][trip_id] = self.seq
        for end in (record["airport_from"], record["airport_to"]):
            self.batch.zsets[self.keys("by_airport", end)][trip_id] = self.seq
        self.batch.records += 1
        return "created"

    def _unexpected(self, *args, **kwargs):
        raise RuntimeError("bulk load: a trip's create failed part way")

    abandon = forget = _unexpected


def _services(client, prefix, airport_batch, trip_batch):
    """The two services' workers on the collecting stores, and those stores."""
    with warnings.catch_warnings():  # nameko imports eventlet, which warns that it is deprecated
        warnings.simplefilter("ignore")
        from nameko.testing.services import worker_factory

        from workers.airports.service import AirportsService
        from workers.airports.storage import AirportStore
        from workers.runtime.context import IncomingCall
        from workers.trips.service import TripsService
        from workers.trips.storage import TripStore

    # the real stores name the keys (their constructors only register scripts with the client)
    airport_writes = AirportWrites(AirportStore(client, prefix, {}), airport_batch)
    trip_writes = TripWrites(TripStore(client, prefix, {}), trip_batch)
    incoming = IncomingCall(request_id=None, delivery_id=None)
    airports = worker_factory(AirportsService, store=airport_writes, incoming=incoming)
    trips = worker_factory(
        TripsService, store=trip_writes, incoming=incoming, airports=airports, config={"TRIP_HOLD_DEADLINE": 60}
    )
    return airports, trips, airport_writes, trip_writes


def iata_code(n):
    """The n-th three-letter code (AAA, AAB, ...); None past ZZZ."""
    if n >= 26**3:
        return None
    return "".join(chr(65 + (n // 26**k) % 26) for k in (2, 1, 0))


def trip_ends(trips, busy_trips, airport_count):
    """(from, to) airport numbers of each trip, in creation order: airport 0 is the busy one."""
    others = airport_count - 1
    busy_seen = rest = 0
    for n in range(trips):
        if (n + 1) * busy_trips // trips > n * busy_trips // trips:  # evenly spread busy trips
            other = 1 + busy_seen % others
            yield (0, other) if busy_seen % 2 == 0 else (other, 0)
            busy_seen += 1
        else:
            a = 1 + rest % others
            b = 1 + (rest + 1) % others
            yield (a, b) if a != b else (a, 0)  # two airports only: the busy one is the other end
            rest += 1


def load(client, prefix, airports, trips=None, busy_trips=None, iata=False, batch=BATCH, progress=None):
    """Load `airports` airports and `trips` (default: as many) trips under `prefix`; a BulkLoad.
    `progress(text)` is told how far it got every few batches."""
    trips = airports if trips is None else trips
    busy_trips = default_busy_trips(trips) if busy_trips is None else min(busy_trips, trips)
    if trips and airports < 2:
        raise ValueError("trips need at least two airports")
    started, before = time.monotonic(), client.info("memory")["used_memory"]
    airport_batch, trip_batch = Batch(), Batch()
    airport_service, trip_service, airport_writes, trip_writes = _services(client, prefix, airport_batch, trip_batch)
    # Reserve the sequences each create's INCR would have handed out, leaving the counters at the
    # last one, as the scripts would
    airport_seq = client.incrby(airport_writes.keys("seq"), airports) - airports + 1 if airports else 0
    trip_seq = client.incrby(trip_writes.keys("seq"), trips) - trips + 1 if trips else 0
    airport_writes.seq, trip_writes.seq = airport_seq - 1, trip_seq - 1
    result = BulkLoad(prefix, airports, trips, None, 0)
    commands = 0

    ids = []
    middle = airports // 2
    for n in range(airports):
        code = iata_code(n) if iata else None
        ids.append(airport_service.create(name=f"Bulk airport {n}", iata=code)["id"])
        if n == middle:
            result.airports_cursor = encode_cursor("airports", airport_seq + n)
        if airport_batch.records >= batch:
            commands += airport_batch.write(client)
            if progress and len(ids) % (batch * 20) == 0:
                progress(f"{len(ids):,} airports")
    commands += airport_batch.write(client)
    step = max(1, airports // SAMPLE)
    result.sample_airports = ids[::step][:SAMPLE]

    if trips:
        busy_seen, busy_middle = 0, busy_trips // 2
        for n, (a, b) in enumerate(trip_ends(trips, busy_trips, airports)):
            trip_service.create(airport_from=ids[a], airport_to=ids[b])
            if a == 0 or b == 0:
                if busy_seen == busy_middle and busy_trips > 1:
                    result.busy_trips_cursor = encode_cursor("trips@" + ids[0], trip_seq + n)
                busy_seen += 1
            if trip_batch.records >= batch:
                commands += trip_batch.write(client) + airport_batch.write(client)  # + the holders sets
                if progress and (n + 1) % (batch * 20) == 0:
                    progress(f"{n + 1:,} trips")
        commands += trip_batch.write(client) + airport_batch.write(client)
        if busy_seen:  # with two airports only, every trip joins the busy one
            result.busy_airport, result.busy_trips = ids[0], busy_seen
    result.seconds = round(time.monotonic() - started, 2)
    result.memory_bytes = client.info("memory")["used_memory"] - before
    result.commands = commands
    return result


def load_at(redis_uri, prefix, count, label, **options):
    """`load` on the server `redis_uri` names (any REDIS_URI form), its progress on stderr after
    `label`."""
    from workers.common.redis_clients import connect

    clients = connect(redis_uri)
    try:
        return load(
            clients.primary,
            prefix,
            count,
            progress=lambda text: print(f"{label}: {text}", file=sys.stderr, flush=True),
            **options,
        )
    finally:
        clients.close()


def load_into(bench_targets, count):
    """`python -m bench --data-size N`: N airports and N trips into the run's Redis prefix (after
    the stack started, before the seeding through the API); the BulkLoad."""
    result = load_at(bench_targets.options.redis_uri, bench_targets.redis_prefix, count, "bench: bulk load")
    print(f"bench: bulk loaded {result.describe()}", file=sys.stderr, flush=True)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.bulk_load", description=__doc__.splitlines()[0])
    parser.add_argument("--redis-uri", default="redis://127.0.0.1:6379/0", help="a REDIS_URI (Sentinel too)")
    parser.add_argument("--prefix", required=True, help="the workers' REDIS_KEY_PREFIX, e.g. bench-<run id>:")
    parser.add_argument("--count", type=int, required=True, help="airports (and trips, unless --trips)")
    parser.add_argument("--trips", type=int, help="trips (default: --count)")
    parser.add_argument(
        "--busy-trips",
        type=int,
        help=f"trips of the busy airport (default {BUSY_TRIPS:,} with at least as many trips, else a tenth)",
    )
    parser.add_argument("--iata", action="store_true", help="give the first 17,576 airports IATA codes")
    parser.add_argument("--batch", type=int, default=BATCH, help=f"records per pipeline (default {BATCH:,})")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if args.count < 0 or (args.trips or 0) < 0 or args.batch < 1:
        parser.error("counts must not be negative, --batch at least 1")

    result = load_at(
        args.redis_uri,
        args.prefix,
        args.count,
        "bulk_load",
        trips=args.trips,
        busy_trips=args.busy_trips,
        iata=args.iata,
        batch=args.batch,
    )
    print(json.dumps(result.as_dict(), indent=2) if args.json else f"bulk_load: {result.describe()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
