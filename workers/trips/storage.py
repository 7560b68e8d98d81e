"""Trips in Redis. Keys (all under the service's hash tag):

    record:<id>          the record, JSON (a change or a delete goes ahead only if it is still the
                         one read)
    index                sorted set of ids scored by creation sequence (listing)
    seq                  the creation sequence counter
    by_airport:<id>      the same, for the trips from or to one airport (filtered listing)
    holder               hash: trip id -> the holder holding its airports now, for a trip whose
                         airports changed (absent: the trip's own id, whose create took them)
    holds                hash: holder -> JSON list of the airports it holds at airports_service
    unconfirmed          sorted set: holders being taken (a create's, or a change's: holds taken,
                         record not yet written), scored by the deadline after which they are released
    releasing            sorted set: holders whose holds must be released, scored by the next attempt
    causes               hash: holder -> W3C traceparent of the request that promised or queued
                         the release (tracing on), for the release's span to link to
    idempotency:*        see workers.common.idempotency
    deleted:*            what a delete call deleted, by delivery id (workers.common.idempotency)

A holder is a trip's id (its create's holds) or `<trip id>.<change id>` (a change's holds:
schemas/fields.py). `unconfirmed` and `releasing` form an outbox, so a crash leaves work that
`due_releases` hands out again (docs/design.md, "The trips' holds outbox"). Multi-key writes are
Lua scripts: whole or nothing.
"""

from workers.common.idempotency import DELETED_LUA, GUARD_LUA, Idempotency
from workers.common.paging import read_page
from workers.common.records import dumps, loads
from workers.common.storage import Keyspace, Reads, Stored, Writes


def _text(value):
    return value.decode() if isinstance(value, bytes) else value or ""


_INTEND = """
-- KEYS: holds, unconfirmed, causes; ARGV: holder, airports JSON, deadline, traceparent or ""
redis.call("HSET", KEYS[1], ARGV[1], ARGV[2])
redis.call("ZADD", KEYS[2], ARGV[3], ARGV[1])
if ARGV[4] ~= "" then redis.call("HSET", KEYS[3], ARGV[1], ARGV[4]) end
return 1
"""

_CREATE = (
    GUARD_LUA
    + """
-- KEYS: record, index, seq, by_airport from, by_airport to, unconfirmed, idempotency
-- ARGV: id, record, token, done entry, ttl
if not owns_idempotency_key(KEYS[7], ARGV[3]) then return "superseded" end
-- Whoever removes the trip from `unconfirmed` decides its fate: this script (the trip
-- is written) or due_releases (the deadline passed and the holds are released).
if redis.call("ZREM", KEYS[6], ARGV[1]) == 0 then return "expired" end
local seq = redis.call("INCR", KEYS[3])
redis.call("SET", KEYS[1], ARGV[2])
redis.call("ZADD", KEYS[2], seq, ARGV[1])
redis.call("ZADD", KEYS[4], seq, ARGV[1])
redis.call("ZADD", KEYS[5], seq, ARGV[1])
redis.call("SET", KEYS[7], ARGV[4], "EX", ARGV[5])
return "created"
"""
)

_UPDATE = (
    GUARD_LUA
    + """
-- KEYS: record, index, by_airport from and to as read, the new ones, unconfirmed, releasing,
-- holder, causes, idempotency
-- ARGV: id, the record as read, the new record, the new holder ("": the same airports), now,
-- traceparent or "", token, done entry, ttl
if not owns_idempotency_key(KEYS[11], ARGV[7]) then return {"superseded"} end
local current = redis.call("GET", KEYS[1])
if not current then return {"missing"} end
if current ~= ARGV[2] then return {"changed"} end
local released = ""
if ARGV[4] ~= "" then
  -- As for a create: whoever removes the new holder from `unconfirmed` decides its fate.
  if redis.call("ZREM", KEYS[7], ARGV[4]) == 0 then return {"expired"} end
  released = redis.call("HGET", KEYS[9], ARGV[1]) or ARGV[1]
  redis.call("HSET", KEYS[9], ARGV[1], ARGV[4])
  redis.call("ZADD", KEYS[8], ARGV[5], released)
  if ARGV[6] ~= "" then redis.call("HSET", KEYS[10], released, ARGV[6]) end
end
local seq = redis.call("ZSCORE", KEYS[2], ARGV[1])
for i = 3, 4 do redis.call("ZREM", KEYS[i], ARGV[1]) end
for i = 5, 6 do redis.call("ZADD", KEYS[i], seq, ARGV[1]) end
redis.call("SET", KEYS[1], ARGV[3])
redis.call("SET", KEYS[11], ARGV[8], "EX", ARGV[9])
return {"updated", released}
"""
)

_ABANDON = """
-- KEYS: unconfirmed, releasing; ARGV: holder, now
if redis.call("ZREM", KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call("ZADD", KEYS[2], ARGV[2], ARGV[1])
return 1
"""

_FORGET = """
-- KEYS: unconfirmed, holds, causes; ARGV: holder
redis.call("ZREM", KEYS[1], ARGV[1])
redis.call("HDEL", KEYS[2], ARGV[1])
redis.call("HDEL", KEYS[3], ARGV[1])
return 1
"""

_DELETE = (
    DELETED_LUA
    + """
-- KEYS: record, index, by_airport from, by_airport to, releasing, causes, holder;
-- ARGV: id, now, marker key, its ttl, traceparent or "", the record as read
local current = redis.call("GET", KEYS[1])
if not current then
  if deleted_by_this_call(ARGV[3], ARGV[1]) then return {"deleted before"} end
  return {"missing"}
end
if current ~= ARGV[6] then return {"changed"} end
local holder = redis.call("HGET", KEYS[7], ARGV[1]) or ARGV[1]
redis.call("HDEL", KEYS[7], ARGV[1])
redis.call("DEL", KEYS[1])
for i = 2, 4 do redis.call("ZREM", KEYS[i], ARGV[1]) end
redis.call("ZADD", KEYS[5], ARGV[2], holder)
remember_deletion(ARGV[3], ARGV[1], ARGV[4])
if ARGV[5] ~= "" then redis.call("HSET", KEYS[6], holder, ARGV[5]) end
return {"deleted", holder}
"""
)

_DUE = """
-- KEYS: unconfirmed, releasing, holds, causes; ARGV: now, next attempt, batch size
local expired = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", ARGV[1], "LIMIT", 0, ARGV[3])
for _, id in ipairs(expired) do
  redis.call("ZREM", KEYS[1], id)
  redis.call("ZADD", KEYS[2], ARGV[1], id)
end
local due = redis.call("ZRANGEBYSCORE", KEYS[2], "-inf", ARGV[1], "LIMIT", 0, ARGV[3])
local out = {}
for _, id in ipairs(due) do
  redis.call("ZADD", KEYS[2], ARGV[2], id)
  table.insert(out, id)
  table.insert(out, redis.call("HGET", KEYS[3], id) or "[]")
  table.insert(out, redis.call("HGET", KEYS[4], id) or "")
end
return out
"""

_RELEASED = """
-- KEYS: releasing, holds, causes; ARGV: holder
redis.call("ZREM", KEYS[1], ARGV[1])
redis.call("HDEL", KEYS[2], ARGV[1])
redis.call("HDEL", KEYS[3], ARGV[1])
return 1
"""


class TripStore:
    def __init__(self, redis, prefix, config, replica=None):
        self.redis = redis
        self.read = Reads(redis, replica)
        self.keys = Keyspace(prefix, "trips")
        writes = Writes(redis, config)
        self.idempotency = Idempotency(writes, self.keys, config)
        scripts = {
            name: writes.script(span_name, lua)
            for name, span_name, lua in [
                ("intend", "promise_holds", _INTEND),
                ("create", "create_trip", _CREATE),
                ("update", "update_trip", _UPDATE),
                ("abandon", "abandon_trip", _ABANDON),
                ("forget", "forget_holds", _FORGET),
                ("delete", "delete_trip", _DELETE),
                ("due", "due_releases", _DUE),
                ("released", "holds_released", _RELEASED),
            ]
        }
        self._scripts = scripts

    def record_key(self, trip_id):
        return self.keys("record", trip_id)

    def get(self, trip_id):
        stored = self.get_stored(trip_id)
        return None if stored is None else stored.record

    def get_stored(self, trip_id):
        """The record and its JSON as stored, which a change or a delete of it is conditional on."""
        raw = self.read.get(self.record_key(trip_id))
        return None if raw is None else Stored(loads(raw), raw)

    def page(self, limit, cursor, airport=None):
        if airport is None:
            index, scope = self.keys("index"), "trips"
        else:
            index, scope = self.keys("by_airport", airport), "trips@" + airport
        return self.read(lambda redis: read_page(redis, index, self.record_key, scope, limit, cursor))

    def intend(self, holder, airport_ids, deadline_ms, *, cause=""):
        """Promise the holds about to be taken: released after the deadline unless `create` (or
        `update`) ran. `cause`: the traceparent of the request, for a release of them to link to."""
        self._scripts["intend"](
            keys=[self.keys("holds"), self.keys("unconfirmed"), self.keys("causes")],
            args=[holder, dumps(airport_ids), deadline_ms, cause],
        )

    def create(self, record, attempt):
        """Write the trip; "created", "expired" (holds already handed to release) or "superseded"."""
        trip_id = record["id"]
        return self._scripts["create"](
            keys=[
                self.record_key(trip_id),
                self.keys("index"),
                self.keys("seq"),
                self.keys("by_airport", record["airport_from"]),
                self.keys("by_airport", record["airport_to"]),
                self.keys("unconfirmed"),
                attempt.key,
            ],
            args=[trip_id, dumps(record), attempt.token, attempt.done_entry(record), attempt.ttl],
        )

    def update(self, stored, record, holder, attempt, now_ms, *, cause=""):
        """Replace `stored` (as read by get_stored) by `record`. With a `holder` (a change of
        airports, whose holds it promised and took), the trip moves to that holder's holds and the
        release of the ones it had is queued. ("updated", the holder to release, or ""),
        ("changed",) (no longer what was read), ("missing",), ("expired",) (the new holds were
        handed to release already) or ("superseded",)."""
        trip_id, before = record["id"], stored.record
        return tuple(
            self._scripts["update"](
                keys=[
                    self.record_key(trip_id),
                    self.keys("index"),
                    self.keys("by_airport", before["airport_from"]),
                    self.keys("by_airport", before["airport_to"]),
                    self.keys("by_airport", record["airport_from"]),
                    self.keys("by_airport", record["airport_to"]),
                    self.keys("unconfirmed"),
                    self.keys("releasing"),
                    self.keys("holder"),
                    self.keys("causes"),
                    attempt.key,
                ],
                args=[
                    trip_id,
                    stored.raw,
                    dumps(record),
                    holder,
                    now_ms,
                    cause,
                    attempt.token,
                    attempt.done_entry(record),
                    attempt.ttl,
                ],
            )
        )

    def abandon(self, holder, now_ms):
        """A create or change failed after it may have taken holds: queue their release. False if
        the holder was no longer unconfirmed (written after all, or already queued by `due_releases`)."""
        return 1 == self._scripts["abandon"](
            keys=[self.keys("unconfirmed"), self.keys("releasing")], args=[holder, now_ms]
        )

    def forget(self, holder):
        """A create or change failed before any hold was taken: drop its promise."""
        self._scripts["forget"](keys=[self.keys("unconfirmed"), self.keys("holds"), self.keys("causes")], args=[holder])

    def delete(self, stored, now_ms, marker="", *, cause=""):
        """Delete the trip (`stored`, as get_stored read it) and queue the release of its holds:
        ("deleted", its holder), ("missing",), ("changed",) (no longer what was read), or ("deleted
        before",) (by an earlier run of this call, `marker`: its release is queued already).
        `cause`: the traceparent of the delete, for the release to link to."""
        record = stored.record
        trip_id = record["id"]
        return tuple(
            self._scripts["delete"](
                keys=[
                    self.record_key(trip_id),
                    self.keys("index"),
                    self.keys("by_airport", record["airport_from"]),
                    self.keys("by_airport", record["airport_to"]),
                    self.keys("releasing"),
                    self.keys("causes"),
                    self.keys("holder"),
                ],
                args=[trip_id, now_ms, marker, self.idempotency.redelivery_ttl, cause, stored.raw],
            )
        )

    def due_releases(self, now_ms, retry_at_ms, batch=100):
        """[(holder, airport ids, cause)] whose holds are due for release (cause: the traceparent
        of the request that queued it, or ""); each is handed out again at `retry_at_ms` unless
        `released` is called first."""
        flat = self._scripts["due"](
            keys=[self.keys("unconfirmed"), self.keys("releasing"), self.keys("holds"), self.keys("causes")],
            args=[now_ms, retry_at_ms, batch],
        )
        return [(flat[i], loads(flat[i + 1]), _text(flat[i + 2])) for i in range(0, len(flat), 3)]

    def released(self, holder):
        self._scripts["released"](keys=[self.keys("releasing"), self.keys("holds"), self.keys("causes")], args=[holder])

    def ping(self):
        self.redis.ping()
