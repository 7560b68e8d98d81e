"""Airports in Redis. Keys (all under the service's hash tag):

    record:<id>     the record, JSON (a change or a delete goes ahead only if it is still the one read)
    index           sorted set of ids scored by creation sequence (listing)
    seq             the creation sequence counter
    iata:<CODE>     the id holding that IATA code (uniqueness)
    holders:<id>    set of trip ids that reference the airport (see hold/release)
    released:<trip> a day-long marker that the trip's holds were released: a hold that arrives
                    later (it waited in a queue, or was redelivered) is refused, not left behind
    idempotency:*   see workers.common.idempotency
    deleted:*       what a delete call deleted, by delivery id (workers.common.idempotency)

Every write that touches more than one key is a Lua script: it happens whole or not at all.
"""

from schemas.errors import NAMED_AT_MOST
from workers.common.idempotency import DELETED_LUA, GUARD_LUA, Idempotency
from workers.common.paging import read_page
from workers.common.records import dumps, loads
from workers.common.storage import Keyspace, Reads, Stored, Writes

_CREATE = (
    GUARD_LUA
    + """
-- KEYS: record, index, seq, iata, idempotency; ARGV: id, record, has iata, token, done entry, ttl
if not owns_idempotency_key(KEYS[5], ARGV[4]) then return "superseded" end
if ARGV[3] == "1" then
  local holder = redis.call("GET", KEYS[4])
  if holder then return {"iata_taken", holder} end
end
local seq = redis.call("INCR", KEYS[3])
redis.call("SET", KEYS[1], ARGV[2])
redis.call("ZADD", KEYS[2], seq, ARGV[1])
if ARGV[3] == "1" then redis.call("SET", KEYS[4], ARGV[1]) end
redis.call("SET", KEYS[5], ARGV[5], "EX", ARGV[6])
return "created"
"""
)

_UPDATE = (
    GUARD_LUA
    + """
-- KEYS: record, its iata, the new iata, idempotency
-- ARGV: id, the record as read, the new record, has a new iata, token, done entry, ttl
if not owns_idempotency_key(KEYS[4], ARGV[5]) then return "superseded" end
local current = redis.call("GET", KEYS[1])
if not current then return "missing" end
if current ~= ARGV[2] then return "changed" end
if KEYS[3] ~= KEYS[2] then
  if ARGV[4] == "1" then
    local holder = redis.call("GET", KEYS[3])
    if holder then return {"iata_taken", holder} end
  end
  if redis.call("GET", KEYS[2]) == ARGV[1] then redis.call("DEL", KEYS[2]) end
  if ARGV[4] == "1" then redis.call("SET", KEYS[3], ARGV[1]) end
end
redis.call("SET", KEYS[1], ARGV[3])
redis.call("SET", KEYS[4], ARGV[6], "EX", ARGV[7])
return "updated"
"""
)

_DELETE = (
    DELETED_LUA
    + """
-- KEYS: record, index, holders, iata; ARGV: id, deletion marker key, its ttl, holders to name,
-- the record as read
local current = redis.call("GET", KEYS[1])
if not current then
  if deleted_by_this_call(ARGV[2], ARGV[1]) then return "deleted" end
  return "missing"
end
if current ~= ARGV[5] then return "changed" end
local held = redis.call("SCARD", KEYS[3])
if held > 0 then return {"held", held, redis.call("SRANDMEMBER", KEYS[3], ARGV[4])} end
redis.call("DEL", KEYS[1])
redis.call("ZREM", KEYS[2], ARGV[1])
if redis.call("GET", KEYS[4]) == ARGV[1] then redis.call("DEL", KEYS[4]) end
remember_deletion(ARGV[2], ARGV[1], ARGV[3])
return "deleted"
"""
)

_HOLD = """
-- KEYS: n record keys, then their n holders sets, then the holder's released marker;
-- ARGV: holder. All or nothing.
if redis.call("EXISTS", KEYS[#KEYS]) == 1 then return -1 end
local n = (#KEYS - 1) / 2
local missing = {}
for i = 1, n do
  if redis.call("EXISTS", KEYS[i]) == 0 then table.insert(missing, i) end
end
if #missing == 0 then
  for i = 1, n do redis.call("SADD", KEYS[n + i], ARGV[1]) end
end
return missing
"""

_RELEASE = """
-- KEYS: the holder's released marker, then the holders sets; ARGV: holder, marker ttl
redis.call("SET", KEYS[1], 1, "EX", ARGV[2])
for i = 2, #KEYS do redis.call("SREM", KEYS[i], ARGV[1]) end
return 1
"""

NO_IATA = "-"  # names a key that can never exist: codes are three letters
RELEASED_MARKER_TTL = 24 * 3600  # seconds: longer than any hold could plausibly wait to be handled


def _outcome(result):
    """A script's (outcome, detail): scripts answer a bare string when there is no detail."""
    return (result, None) if isinstance(result, str) else tuple(result)


class HoldReleased(Exception):
    """The holder's holds were already released: this hold is stale."""


class AirportStore:
    def __init__(self, redis, prefix, config, replica=None):
        self.redis = redis
        self.read = Reads(redis, replica)
        self.keys = Keyspace(prefix, "airports")
        writes = Writes(redis, config)
        self.idempotency = Idempotency(writes, self.keys, config)
        self._create = writes.script("create_airport", _CREATE)
        self._update = writes.script("update_airport", _UPDATE)
        self._delete = writes.script("delete_airport", _DELETE)
        self._hold = writes.script("hold_airports", _HOLD)
        self._release = writes.script("release_airports", _RELEASE)

    def record_key(self, airport_id):
        return self.keys("record", airport_id)

    def get(self, airport_id):
        stored = self.get_stored(airport_id)
        return None if stored is None else stored.record

    def get_stored(self, airport_id):
        """The record and its JSON as stored, which a change or a delete of it is conditional on."""
        raw = self.read.get(self.record_key(airport_id))
        return None if raw is None else Stored(loads(raw), raw)

    def find_by_iata(self, code):
        """The airport holding an IATA code, or None: the code's index entry, then its record (which
        must still have the code: it may have changed between the two reads)."""
        airport_id = self.read.get(self.keys("iata", code))
        record = None if airport_id is None else self.get(airport_id)
        return record if record is not None and record["iata"] == code else None

    def page(self, limit, cursor):
        return self.read(lambda redis: read_page(redis, self.keys("index"), self.record_key, "airports", limit, cursor))

    def create(self, record, attempt):
        """Store a new record: ("created", None), ("iata_taken", the id holding the code) or
        ("superseded", None)."""
        iata = record["iata"]
        return _outcome(
            self._create(
                keys=[
                    self.record_key(record["id"]),
                    self.keys("index"),
                    self.keys("seq"),
                    self.keys("iata", iata or NO_IATA),
                    attempt.key,
                ],
                args=[
                    record["id"],
                    dumps(record),
                    "1" if iata else "",
                    attempt.token,
                    attempt.done_entry(record),
                    attempt.ttl,
                ],
            )
        )

    def update(self, stored, record, attempt):
        """Replace `stored` (as read by get_stored) by `record`, and move the IATA index with it:
        ("updated", None), ("iata_taken", the id holding the code), ("changed", None) (it is no
        longer what was read), ("missing", None) or ("superseded", None)."""
        iata = record["iata"]
        return _outcome(
            self._update(
                keys=[
                    self.record_key(record["id"]),
                    self.keys("iata", stored.record["iata"] or NO_IATA),
                    self.keys("iata", iata or NO_IATA),
                    attempt.key,
                ],
                args=[
                    record["id"],
                    stored.raw,
                    dumps(record),
                    "1" if iata else "",
                    attempt.token,
                    attempt.done_entry(record),
                    attempt.ttl,
                ],
            )
        )

    def delete(self, stored, marker=""):
        """("deleted",) (now, or by an earlier run of this call: `marker`), ("missing",) (gone
        meanwhile), ("changed",) (no longer what get_stored read) or ("held", how many holders,
        some of them) (trips reference it)."""
        record = stored.record
        airport_id = record["id"]
        outcome = self._delete(
            keys=[
                self.record_key(airport_id),
                self.keys("index"),
                self.keys("holders", airport_id),
                self.keys("iata", record["iata"] or NO_IATA),
            ],
            args=[airport_id, marker, self.idempotency.redelivery_ttl, NAMED_AT_MOST, stored.raw],
        )
        return (outcome,) if isinstance(outcome, str) else tuple(outcome)

    def hold(self, airport_ids, holder):
        """Mark the airports as referenced by `holder`, if all exist; returns the missing ids.
        HoldReleased if `holder` was released already."""
        # A hold asked again writes nothing new (SADD of a member), so its WAIT may not cover the
        # first one; the trip's own script, waited for after it, does: one primary holds both
        # services' keys in every layout (a replication stream is ordered).
        keys = (
            [self.record_key(i) for i in airport_ids]
            + [self.keys("holders", i) for i in airport_ids]
            + [self.keys("released", holder)]
        )
        missing = self._hold(keys=keys, args=[holder])
        if missing == -1:
            raise HoldReleased(holder)
        return [airport_ids[i - 1] for i in missing]

    def release(self, airport_ids, holder):
        """Forget `holder`'s holds, and refuse any hold of it that comes later."""
        self._release(
            keys=[self.keys("released", holder), *(self.keys("holders", i) for i in airport_ids)],
            args=[holder, RELEASED_MARKER_TTL],
        )

    def holders(self, airport_id):
        return sorted(self.read(lambda redis: redis.smembers(self.keys("holders", airport_id))))

    def ping(self):
        self.redis.ping()
