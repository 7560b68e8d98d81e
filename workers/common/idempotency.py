"""Idempotent writes (creates, changes, deletes): the same key and input give the first result
and write nothing more.

`begin` claims the key with a *pending* entry (a fingerprint of the input, the caller's delivery
id, a fresh attempt token); the service's own write script stores the record and, in the same
script, turns the entry *done* with the result if `GUARD_LUA` finds the attempt still owns the
key. What `begin` finds decides the outcome:

* nothing: a new attempt;
* done, same input: the first result (a retry, or a redelivery);
* another input: `IdempotencyKeyReused`;
* pending, same delivery id: a redelivery or a republish takes the key over (the old attempt
  becomes `Superseded`), except a copy for the same reply queue that is not a redelivery
  (`Duplicate`: the first run answers);
* pending, another delivery id: `IdempotencyKeyInUse`.

Without an explicit key the delivery id is the key. A delete leaves a marker under its delivery
id (`DELETED_LUA`) so that running it again answers as the first run did. Why each case, and the
leases: docs/design.md, "Idempotency in the workers".
"""

import hashlib
import logging
import uuid
from dataclasses import dataclass

import orjson

from schemas.errors import KEY_IN_USE, KEY_REUSED, IdempotencyKeyInUse, IdempotencyKeyReused
from workers.common.records import dumps, loads
from workers.common.tracing import script
from workers.runtime.context import AnsweredElsewhere

log = logging.getLogger(__name__)

DEFAULT_TTL = 24 * 3600  # explicit keys, as clients retry
DEFAULT_REDELIVERY_TTL = 3600  # implicit keys only need to outlive a redelivery
DEFAULT_LEASE = 60  # how long a pending entry blocks its key

_BEGIN = """
local raw = redis.call("GET", KEYS[1])
if not raw then
  redis.call("SET", KEYS[1], ARGV[4], "EX", ARGV[5])
  return {"new"}
end
local entry = cjson.decode(raw)
if entry.fp ~= ARGV[1] then return {"mismatch"} end
if entry.state == "done" then
  -- written again as it is, so that the WAIT after this script covers the write it stands for
  redis.call("SET", KEYS[1], raw, "KEEPTTL")
  return {"replay", entry.result}
end
if ARGV[2] ~= "" and entry.owner == ARGV[2] then
  -- the same call again: a copy sent to the same reply queue, not redelivered, finds its first
  -- run alive (a dead one's message would come back redelivered) and leaves the answer to it
  if ARGV[6] ~= "" and entry.reply == ARGV[6] and ARGV[7] ~= "1" then return {"duplicate"} end
  redis.call("SET", KEYS[1], ARGV[4], "EX", ARGV[5])
  return {"new"}
end
return {"busy"}
"""

# Service create scripts start with this and call it before writing anything.
GUARD_LUA = """
local function owns_idempotency_key(key, token)
  local raw = redis.call("GET", key)
  return (not raw) or cjson.decode(raw).token == token
end
"""

# Service delete scripts: KEYS[marker] is `deletion_marker`'s key, ARGV[ttl] its lifetime.
DELETED_LUA = """
local function deleted_by_this_call(marker, id)
  if marker == "" or redis.call("GET", marker) ~= id then return false end
  redis.call("SET", marker, id, "KEEPTTL")  -- again, for the WAIT after the script: as a replay
  return true
end
local function remember_deletion(marker, id, ttl)
  if marker ~= "" then redis.call("SET", marker, id, "EX", ttl) end
end
"""
NO_MARKER = ""  # a direct call (unit tests): nothing can run it again

_DELETED_BEFORE = (
    DELETED_LUA
    + """
-- KEYS: the deletion marker; ARGV: the id
if deleted_by_this_call(KEYS[1], ARGV[1]) then return 1 end
return 0
"""
)


# Only a *pending* entry of this attempt goes: an attempt whose create script did commit (its
# reply lost to a timeout, say) left a done entry, which must stay so that retries replay it.
_ABANDON = """
local raw = redis.call("GET", KEYS[1])
if raw then
  local entry = cjson.decode(raw)
  if entry.state == "pending" and entry.token == ARGV[1] then redis.call("DEL", KEYS[1]) end
end
return 1
"""


class Superseded(IdempotencyKeyInUse, AnsweredElsewhere):
    """This attempt lost its key to a later run of the same call (same delivery id: nameko's
    redelivery, or the gateway republishing after a lost broker connection), which answers the
    caller; the rpc entrypoint sends no reply for it (workers/runtime/entrypoint.py). Raised only
    once the attempt holds the key no more, so its caller has either that other run's answer or,
    for a lease that expired (60 s), stopped waiting long ago."""


class Duplicate(Superseded):
    """A copy of a call whose first run (same delivery id, same reply queue) is in progress:
    that run answers; this one sends no reply."""


@dataclass(frozen=True)
class Attempt:
    key: str  # the Redis key of the entry
    token: str
    fingerprint: str
    ttl: int
    replay: dict | None = None

    def done_entry(self, result):
        """The entry a create script stores, atomically with the record, once it succeeded."""
        return dumps({"state": "done", "fp": self.fingerprint, "token": self.token, "result": dumps(result)})


class Idempotency:
    """Idempotent writes on the store's `writes` (a Writes: its client, and its REDIS_WAIT_REPLICAS)."""

    def __init__(self, writes, keys, config):
        self.keys = keys
        self.ttl = int(config.get("IDEMPOTENCY_TTL", DEFAULT_TTL))
        self.redelivery_ttl = int(config.get("IDEMPOTENCY_REDELIVERY_TTL", DEFAULT_REDELIVERY_TTL))
        self.lease = int(config.get("IDEMPOTENCY_LEASE", DEFAULT_LEASE))
        # The claim and its release go without REDIS_WAIT_REPLICAS' WAIT even when it is on:
        # a claim a failover loses costs nothing (the create script finds no entry, which lets it
        # commit) and a lost release only leaves a pending entry that expires with its lease.
        # The entry that matters, the result, is written by the service's create script, waited for,
        # and a replay of it waits too: the first run's WAIT may not have answered yet, or failed.
        self._begin = writes.script("claim_idempotency_key", _BEGIN, waits_when=lambda outcome: outcome[0] == "replay")
        self._abandon_script = script(writes.client, "free_idempotency_key", _ABANDON)
        self._deleted_before = writes.script("deleted_before", _DELETED_BEFORE, waits_when=bool)

    def deletion_marker(self, incoming):
        """The key under which a delete run with `incoming`'s delivery id records what it deleted."""
        if not incoming.delivery_id:
            return NO_MARKER
        return self.keys("deleted", hashlib.sha256(("delivery:" + incoming.delivery_id).encode()).hexdigest())

    def deleted_by(self, incoming, record_id):
        """Whether a run of this very call (same delivery id) deleted `record_id` already."""
        marker = self.deletion_marker(incoming)
        return bool(marker) and bool(self._deleted_before(keys=[marker], args=[record_id]))

    def commit_failed(self):
        """The error for a create script that found its attempt superseded (`GUARD_LUA` said no)."""
        return Superseded("Another attempt with this idempotency key took over.")

    def begin(self, incoming, idempotency_key, payload):
        """Claim the key for a create of `payload`; see the module docstring for the outcomes."""
        delivery_id = incoming.delivery_id or ""
        if idempotency_key is not None:
            scope, ttl = "key:" + idempotency_key, self.ttl
        elif delivery_id:
            scope, ttl = "delivery:" + delivery_id, self.redelivery_ttl
        else:  # a direct call in a unit test: nothing can redeliver it
            scope, ttl = "attempt:" + uuid.uuid4().hex, self.lease
        key = self.keys("idempotency", hashlib.sha256(scope.encode()).hexdigest())
        fingerprint = hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()
        token = uuid.uuid4().hex
        reply_to = getattr(incoming, "reply_to", None) or ""
        redelivered = "1" if getattr(incoming, "redelivered", False) else ""
        pending = dumps(
            {"state": "pending", "fp": fingerprint, "owner": delivery_id, "token": token, "reply": reply_to}
        )
        outcome = self._begin(
            keys=[key], args=[fingerprint, delivery_id, token, pending, self.lease, reply_to, redelivered]
        )
        attempt = Attempt(key, token, fingerprint, ttl)
        if outcome[0] == "new":
            return attempt
        if outcome[0] == "replay":
            return Attempt(key, token, fingerprint, ttl, replay=loads(outcome[1]))
        if outcome[0] == "duplicate":
            raise Duplicate("The first run of this call is still being processed and will answer.")
        if outcome[0] == "mismatch":
            raise IdempotencyKeyReused(KEY_REUSED)
        raise IdempotencyKeyInUse(KEY_IN_USE)

    def write_once(self, incoming, idempotency_key, payload, write):
        """`write(attempt)` (the create or change itself) once per key and input; the first result for
        any repeat."""
        attempt = self.begin(incoming, idempotency_key, payload)
        if attempt.replay is not None:
            return attempt.replay
        try:
            return write(attempt)
        except BaseException:
            self._abandon(attempt)
            raise

    def _abandon(self, attempt):
        """Give the key back after a failed attempt, so that a retry runs again (best effort:
        if Redis is what failed, the pending entry simply expires with its lease)."""
        try:
            self._abandon_script(keys=[attempt.key], args=[attempt.token])
        except Exception:
            log.warning("could not release idempotency key %s; it expires in %ss", attempt.key, self.lease)
