"""trips_service: trips between two airports.

The trips worker holds no airport data: it asks airports_service, over RPC, to *hold*
both airports for a new trip (which fails unless both exist) and to *release* them
when the trip goes. airports_service refuses to delete an airport while it is held.
README.md, "Referential integrity across services", walks through the failure cases.
"""

import logging
import time

from nameko.constants import NON_PERSISTENT
from nameko.dependency_providers import Config
from nameko.timer import timer

from schemas.errors import NotFound, ServiceUnavailable, ValidationError
from schemas.errors import not_found as record_not_found
from schemas.fields import is_id
from schemas.trips import TripCreate, TripListQuery
from schemas.validation import load
from workers.common.metrics import Metrics
from workers.common.records import new_id, utc_now
from workers.common.storage import RedisStore
from workers.common.tracing import release_span, traceparent
from workers.runtime import IncomingCallProvider, RpcProxy, call_idempotent, rpc
from workers.trips.storage import TripStore

log = logging.getLogger(__name__)

ENDS = ("airport_from", "airport_to")
RELEASE_INTERVAL = 5  # seconds between sweeps of the release outbox


CREATE, LIST_QUERY = TripCreate(), TripListQuery()  # loading keeps no state in a schema


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
    def get(self, trip_id):
        record = self.store.get(trip_id) if is_id(trip_id) else None
        if record is None:
            raise not_found(trip_id)
        return record

    @rpc
    def list(self, airport=None, limit=20, cursor=None):
        """{"items": [...], "next_cursor": ...} in creation order; `airport` keeps the trips
        from or to that airport."""
        query = load(LIST_QUERY, {"airport": airport, "limit": limit, "cursor": cursor})
        return self.store.page(query["limit"], query["cursor"], query["airport"])

    @rpc
    def delete(self, trip_id):
        """Delete a trip and release its holds. Run again under the same delivery id (a
        redelivery, a republished request), it answers as its first run did."""
        record = self.store.get(trip_id) if is_id(trip_id) else None
        if record is None:
            if is_id(trip_id) and self.store.idempotency.deleted_by(self.incoming, trip_id):
                return None
            raise not_found(trip_id)
        outcome = self.store.delete(
            record, now_ms(), self.store.idempotency.deletion_marker(self.incoming), cause=traceparent()
        )
        if outcome == "missing":
            raise not_found(trip_id)
        if outcome == "deleted":  # "deleted before": that run released, or queued the release
            # one attempt only: the release is queued already (the delete script did it), so the
            # timer retries it; the caller need not wait for airports_service to be reachable
            self._release(trip_id, [record[end] for end in ENDS], once=True)

    @rpc
    def health(self):
        self.store.ping()
        return {"redis": "ok"}

    @timer(interval=RELEASE_INTERVAL)
    def release_holds(self):
        """Retry the releases that could not be done inline (airports_service down, a crash)."""
        now = now_ms()
        retry_at = now + int(self.config.get("TRIP_RELEASE_RETRY", 10)) * 1000
        for trip_id, airport_ids, cause in self.store.due_releases(now, retry_at):
            with release_span(self.name, trip_id, cause):  # linked to the trace that queued it
                self._release(trip_id, airport_ids)

    def _create(self, data, attempt):
        trip_id = new_id()
        ends = [data[end] for end in ENDS]
        deadline = now_ms() + int(self.config.get("TRIP_HOLD_DEADLINE", 60)) * 1000
        self.store.intend(trip_id, ends, deadline, cause=traceparent())
        try:
            self._hold(trip_id, data)
        except ValidationError:  # an airport is missing, so nothing was held
            self._forget(trip_id)
            raise
        except BaseException:  # the hold may have happened: release it
            self._give_up(trip_id, ends)
            raise
        record = {"id": trip_id, **data, "created_at": utc_now()}
        try:
            outcome = self.store.create(record, attempt)
        except BaseException:
            self._give_up(trip_id, ends)
            raise
        if outcome != "created":
            self._give_up(trip_id, ends)
            if outcome == "superseded":
                raise self.store.idempotency.commit_failed()
            raise ServiceUnavailable("Creating the trip took too long; try again.")
        return record

    def _hold(self, trip_id, data):
        try:
            self._call_airports("hold", airport_ids=[data[end] for end in ENDS], holder=trip_id)
        except NotFound as exc:
            missing = [end for end in ENDS if data[end] in exc.ids] or list(ENDS)
            raise ValidationError({end: ["No airport with this id."] for end in missing}) from None

    def _give_up(self, trip_id, ends):
        """Release the holds of a create that did not complete. Only if the trip is still
        unconfirmed: a create script whose reply was lost may have written it after all."""
        try:
            queued = self.store.abandon(trip_id, now_ms())
        except Exception as exc:  # Redis is down: the deadline in `unconfirmed` still releases them
            log.warning("could not queue the release of trip %s: %s", trip_id, exc)
            return
        if queued:
            self._release(trip_id, ends)

    def _release(self, trip_id, airport_ids, once=False):
        """Release a trip's holds now if airports_service answers; else the timer retries."""
        try:
            self._call_airports("release", once=once, airport_ids=airport_ids, holder=trip_id)
            self.store.released(trip_id)
        except Exception as exc:
            log.warning("holds of trip %s not released yet (%s); will retry", trip_id, exc)

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

    def _forget(self, trip_id):
        try:
            self.store.forget(trip_id)
        except Exception as exc:  # the deadline releases (nothing) later
            log.warning("could not drop the hold promise of trip %s: %s", trip_id, exc)
