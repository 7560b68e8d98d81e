"""trips_service: trips between two airports.

The trips worker holds no airport data: it asks airports_service, over RPC, to *hold*
both airports for a new trip (which fails unless both exist) and to *release* them
when the trip goes. A change of a trip's airports holds the new ones (under a holder of its
own) before the trip points at them, and releases the old ones after. airports_service
refuses to delete an airport while it is held. docs/design.md, "Referential integrity across
services", walks through the failure cases.
"""

import logging
import time

from nameko.constants import NON_PERSISTENT
from nameko.dependency_providers import Config
from nameko.timer import timer

from schemas.errors import NotFound, ServiceUnavailable, ValidationError, changed_meanwhile, precondition_failed
from schemas.errors import not_found as record_not_found
from schemas.etags import if_match_holds
from schemas.fields import is_id, trip_of
from schemas.trips import TripCreate, TripListQuery, TripUpdate
from schemas.validation import load
from workers.common.metrics import Metrics
from workers.common.records import merged, new_id, utc_now
from workers.common.storage import RedisStore
from workers.common.tracing import release_span, traceparent
from workers.runtime import IncomingCallProvider, RpcProxy, call_idempotent, rpc
from workers.trips.storage import TripStore

log = logging.getLogger(__name__)

ENDS = ("airport_from", "airport_to")
RELEASE_INTERVAL = 5  # seconds between sweeps of the release outbox


CREATE, UPDATE, LIST_QUERY = TripCreate(), TripUpdate(), TripListQuery()  # loading keeps no state in a schema
READS = 5  # times a change or delete reads the trip again when it changed under it


def ends_of(trip):
    """The airport ids of a trip (or of its input), from first to last."""
    return [trip[end] for end in ENDS]


def now_ms():
    return int(time.time() * 1000)


def not_found(trip_id):
    return record_not_found("trip", trip_id)


class TripsService:
    name = "trips_service"

    incoming = IncomingCallProvider()
    metrics = Metrics()
    config = Config()
    store = RedisStore(TripStore)
    # nameko's (client spans when tracing is on), its requests transient, as the gateway's are: its
    # reply queue dies with the broker, so a persisted request would outlive the one who waits
    # for its answer; publisher confirms stay (UnknownService, and a nack to ask again on)
    airports = RpcProxy("airports_service", delivery_mode=NON_PERSISTENT)

    @rpc
    def create(self, airport_from, airport_to, idempotency_key=None):
        """Create a trip between two existing, different airports; the record."""
        data = load(CREATE, {"airport_from": airport_from, "airport_to": airport_to})
        return self.store.idempotency.write_once(
            self.incoming, idempotency_key, data, lambda attempt: self._create(data, attempt)
        )

    @rpc
    def update(self, trip_id, changes, if_match=None, idempotency_key=None):
        """Change a trip's airports by a JSON Merge Patch (`changes`); the record as it is now.
        With `if_match` (ETags), only if the trip still has one of them (else PreconditionFailed).
        New airports are held before the trip points at them, the old ones released after."""
        if not is_id(trip_id):
            raise not_found(trip_id)
        changes = load(UPDATE, changes)
        request = {"trip_id": trip_id, "changes": changes, "if_match": if_match}
        return self.store.idempotency.write_once(
            self.incoming, idempotency_key, request, lambda attempt: self._update(trip_id, changes, if_match, attempt)
        )

    @rpc
    def get(self, trip_id):
        record = self.store.get(trip_id) if is_id(trip_id) else None
        if record is None:
            raise not_found(trip_id)
        return record

    @rpc
    def list(self, airport=None, limit=20, cursor=None):
        """{"items": [...], "next_cursor": ...} in creation order; `airport` keeps the trips
        from or to that airport, and is NotFound when no airport has that id."""
        query = load(LIST_QUERY, {"airport": airport, "limit": limit, "cursor": cursor})
        page = self.store.page(query["limit"], query["cursor"], query["airport"])
        if query["airport"] is not None and not page["items"] and query["cursor"] is None:
            # A trip holds its airports, so an airport with trips exists: only an empty first page
            # asks airports_service whether this one does (NotFound if not).
            self._call_airports("get", airport_id=query["airport"])
        return page

    @rpc
    def delete(self, trip_id):
        """Delete a trip and release its holds. Run again under the same delivery id (a
        redelivery, a republished request), it answers as its first run did."""
        if not is_id(trip_id):
            raise not_found(trip_id)
        marker = self.store.idempotency.deletion_marker(self.incoming)
        for _ in range(READS):
            stored = self.store.get_stored(trip_id)
            if stored is None:
                if self.store.idempotency.deleted_by(self.incoming, trip_id):
                    return None
                raise not_found(trip_id)
            outcome, *holder = self.store.delete(stored, now_ms(), marker, cause=traceparent())
            if outcome == "deleted":
                # one attempt only: the release is queued already (the delete script did it), so the
                # timer retries it; the caller need not wait for airports_service to be reachable
                self._release(holder[0], ends_of(stored.record), once=True)
            if outcome in ("deleted", "deleted before"):  # before: that run released, or queued it
                return None
            # "changed" (its airports changed in between: other indexes, another holder) or "missing"
        raise changed_meanwhile("trip")

    @rpc
    def health(self):
        self.store.ping()
        return {"redis": "ok"}

    @timer(interval=RELEASE_INTERVAL)
    def release_holds(self):
        """Retry the releases that could not be done inline (airports_service down, a crash)."""
        now = now_ms()
        retry_at = now + int(self.config.get("TRIP_RELEASE_RETRY", 10)) * 1000
        for holder, airport_ids, cause in self.store.due_releases(now, retry_at):
            with release_span(self.name, trip_of(holder), cause):  # linked to the trace that queued it
                self._release(holder, airport_ids)

    def _create(self, data, attempt):
        trip_id = new_id()
        self._take_holds(trip_id, data)
        record = {"id": trip_id, **data, "created_at": utc_now()}
        try:
            outcome = self.store.create(record, attempt)
        except BaseException:
            self._give_up(trip_id, ends_of(data))
            raise
        if outcome != "created":
            self._give_up(trip_id, ends_of(data))
            if outcome == "superseded":
                raise self.store.idempotency.commit_failed()
            raise ServiceUnavailable("Creating the trip took too long; try again.")
        return record

    def _update(self, trip_id, changes, if_match, attempt):
        for _ in range(READS):
            stored = self.store.get_stored(trip_id)
            if stored is None:
                raise not_found(trip_id)
            if if_match is not None and not if_match_holds(if_match, stored.record):
                raise precondition_failed("trip")
            record = merged(stored.record, changes)
            if record["airport_from"] == record["airport_to"]:
                field, other = ("airport_to", "airport_from") if "airport_to" in changes else ENDS
                raise ValidationError({field: [f"Must differ from {other}."]})
            # new airports are held, under a holder of this change, before the trip points at them
            moves = set(ends_of(record)) != set(ends_of(stored.record))
            holder = f"{trip_id}.{new_id()}" if moves else ""
            if moves:
                self._take_holds(holder, record)
            try:
                outcome, *released = self.store.update(stored, record, holder, attempt, now_ms(), cause=traceparent())
            except BaseException:
                if moves:
                    self._give_up(holder, ends_of(record))
                raise
            if outcome == "updated":
                if released[0]:  # the holds the trip had: their release is queued; one try now
                    self._release(released[0], ends_of(stored.record), once=True)
                return record
            if moves:
                self._give_up(holder, ends_of(record))
            if outcome == "superseded":
                raise self.store.idempotency.commit_failed()
            if outcome == "expired":
                raise ServiceUnavailable("Changing the trip took too long; try again.")
            # "changed" or "missing": read it again
        raise changed_meanwhile("trip")

    def _take_holds(self, holder, trip):
        """Promise `holder`'s holds on the airports of `trip` (a record or a create's input),
        released after the deadline unless a write takes them over, then take them.
        ValidationError naming the missing ones (nothing held); after any other failure their
        release is queued."""
        airport_ids = ends_of(trip)
        deadline = now_ms() + int(self.config.get("TRIP_HOLD_DEADLINE", 60)) * 1000
        self.store.intend(holder, airport_ids, deadline, cause=traceparent())
        try:
            self._call_airports("hold", airport_ids=airport_ids, holder=holder)
        except NotFound as exc:  # an airport is missing, so nothing was held
            self._forget(holder)
            missing = [end for end in ENDS if trip[end] in exc.ids] or list(ENDS)
            raise ValidationError({end: ["No airport with this id."] for end in missing}) from None
        except BaseException:  # the hold may have happened: release it
            self._give_up(holder, airport_ids)
            raise

    def _give_up(self, holder, airport_ids):
        """Release the holds of a create or change that did not complete. Only if the holder is
        still unconfirmed: a write whose reply was lost may have taken them over after all."""
        try:
            queued = self.store.abandon(holder, now_ms())
        except Exception as exc:  # Redis is down: the deadline in `unconfirmed` still releases them
            log.warning("could not queue the release of holder %s: %s", holder, exc)
            return
        if queued:
            self._release(holder, airport_ids)

    def _release(self, holder, airport_ids, once=False):
        """Release a holder's holds now if airports_service answers; else the timer retries."""
        try:
            self._call_airports("release", once=once, airport_ids=airport_ids, holder=holder)
            self.store.released(holder)
        except Exception as exc:
            log.warning("holds of %s not released yet (%s); will retry", holder, exc)

    def _call_airports(self, method, once=False, **kwargs):
        """hold and release are idempotent, so they are asked again while unanswered, within
        AIRPORTS_RPC_TIMEOUT: a stuck airports_service must not pin this worker."""
        timeout = float(self.config.get("AIRPORTS_RPC_TIMEOUT", 5))
        attempt = float(self.config.get("AIRPORTS_RPC_ATTEMPT", 1.5))
        if once:
            timeout = min(attempt, timeout)
        return call_idempotent(
            self.airports,
            method,
            kwargs,
            target="airports_service",
            config=self.config,
            attempt=attempt,
            timeout=timeout,
        )

    def _forget(self, holder):
        try:
            self.store.forget(holder)
        except Exception as exc:  # the deadline releases (nothing) later
            log.warning("could not drop the hold promise of %s: %s", holder, exc)
