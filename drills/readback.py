"""Every airport after a run, read twice: through the API (its listing, page by page) and straight
from Redis (the records under the workers' key prefix, workers/airports/storage.py's scheme), so
that the checker (drills/checker.py) can compare what clients see with what is stored."""

import json
from dataclasses import dataclass, field

from redis.exceptions import RedisError

from devstack.http import Client
from drills.scenarios import _walk
from workers.common.redis_clients import connect
from workers.common.storage import Keyspace

GLOB_SPECIALS = "\\*?[]"
BATCH = 1000  # keys per SCAN step and per MGET


@dataclass
class ReadBack:
    api: list | None  # the records as listed (one listed twice stays twice); None: not read
    redis: dict | None  # {id: record} as stored; None: not read
    errors: list = field(default_factory=list)  # why one of them could not be read


def read_back(url, redis_uri, prefix, *, token=None, timeout=30.0):
    """Both read-backs of the airports; the one that fails is None, and `errors` says why."""
    found = ReadBack(None, None)
    try:
        found.api = _walk(Client(url, token, timeout=timeout), "/airports")
    except RuntimeError as exc:
        found.errors.append(str(exc))
    try:
        found.redis = stored_airports(redis_uri, prefix)
    except (RedisError, OSError) as exc:
        found.errors.append(f"cannot read Redis: {type(exc).__name__}: {exc}")
    return found


def stored_airports(redis_uri, prefix):
    """{id: record} of every airport record under `prefix` (REDIS_KEY_PREFIX), from the primary."""
    clients = connect(redis_uri, decode_responses=True)
    try:
        pattern = _glob_escaped(Keyspace(prefix, "airports")("record", "")) + "*"
        keys = list(clients.primary.scan_iter(match=pattern, count=BATCH))
        records = [r for i in range(0, len(keys), BATCH) for r in clients.primary.mget(keys[i : i + BATCH])]
        # a key deleted between the scan and the read has no value
        return {r["id"]: r for r in map(json.loads, filter(None, records))}
    finally:
        clients.close()


def _glob_escaped(text):
    return "".join("\\" + c if c in GLOB_SPECIALS else c for c in text)
