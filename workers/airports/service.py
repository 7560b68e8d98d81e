"""airports_service: airports, their IATA codes, and the holds trips keep on them."""

from schemas.airports import AirportCreate, AirportListQuery, AirportUpdate
from schemas.errors import (
    Conflict,
    NotFound,
    ValidationError,
    airport_in_use,
    changed_meanwhile,
    iata_taken,
    precondition_failed,
)
from schemas.errors import not_found as record_not_found
from schemas.etags import if_match_holds
from schemas.fields import is_holder, is_id, trip_of
from schemas.validation import load
from workers.airports.storage import AirportStore, HoldReleased
from workers.common.metrics import Metrics
from workers.common.records import merged, new_id, utc_now
from workers.common.storage import RedisStore
from workers.runtime import IncomingCallProvider, rpc

CREATE, UPDATE, LIST_QUERY = AirportCreate(), AirportUpdate(), AirportListQuery()  # loading keeps no state
READS = 5  # times a change or delete reads the record again when it changed under it


def not_found(airport_id):
    return record_not_found("airport", airport_id)


class AirportsService:
    name = "airports_service"

    incoming = IncomingCallProvider()
    metrics = Metrics()
    store = RedisStore(AirportStore)

    @rpc
    def create(self, name, iata=None, idempotency_key=None):
        """Create an airport; the record. Conflict if the IATA code is taken."""
        data = load(CREATE, {"name": name, "iata": iata})

        def write_record(attempt):  # once per key and input (write_once)
            record = {"id": new_id(), "name": data["name"], "iata": data["iata"], "created_at": utc_now()}
            outcome, conflicting = self.store.create(record, attempt)
            if outcome == "iata_taken":
                raise iata_taken(data["iata"], conflicting)
            if outcome == "superseded":
                raise self.store.idempotency.commit_failed()
            return record

        return self.store.idempotency.write_once(self.incoming, idempotency_key, data, write_record)

    @rpc
    def update(self, airport_id, changes, if_match=None, idempotency_key=None):
        """Change an airport by a JSON Merge Patch of its fields (`changes`); the record as it is
        now. With `if_match` (ETags), only if the airport still has one of them (else
        PreconditionFailed). Conflict if the new IATA code is another airport's."""
        if not is_id(airport_id):
            raise not_found(airport_id)
        changes = load(UPDATE, changes)
        request = {"airport_id": airport_id, "changes": changes, "if_match": if_match}

        def write_change(attempt):  # once per key and input (write_once)
            for _ in range(READS):
                stored = self.store.get_stored(airport_id)
                if stored is None:
                    raise not_found(airport_id)
                if if_match is not None and not if_match_holds(if_match, stored.record):
                    raise precondition_failed("airport")
                record = merged(stored.record, changes)
                outcome, conflicting = self.store.update(stored, record, attempt)
                if outcome == "updated":
                    return record
                if outcome == "iata_taken":
                    raise iata_taken(record["iata"], conflicting)
                if outcome == "superseded":
                    raise self.store.idempotency.commit_failed()
                # "changed" or "missing": read it again
            raise changed_meanwhile("airport")

        return self.store.idempotency.write_once(self.incoming, idempotency_key, request, write_change)

    @rpc
    def get(self, airport_id):
        record = self.store.get(airport_id) if is_id(airport_id) else None
        if record is None:
            raise not_found(airport_id)
        return record

    @rpc
    def list(self, limit=20, cursor=None, iata=None):
        """{"items": [...], "next_cursor": ...} in creation order; with `iata` (any case), the one
        page of the airport holding that code, or an empty one."""
        query = load(LIST_QUERY, {"limit": limit, "cursor": cursor, "iata": iata})
        if query.get("iata") is not None:
            record = self.store.find_by_iata(query["iata"])
            return {"items": [] if record is None else [record], "next_cursor": None}
        return self.store.page(query["limit"], query["cursor"])

    @rpc
    def delete(self, airport_id):
        """Delete an airport; Conflict while a trip holds it. Run again under the same delivery id
        (a redelivery, a republished request), it answers as its first run did."""
        if not is_id(airport_id):
            raise not_found(airport_id)
        marker = self.store.idempotency.deletion_marker(self.incoming)
        for _ in range(READS):
            stored = self.store.get_stored(airport_id)
            if stored is None:
                if self.store.idempotency.deleted_by(self.incoming, airport_id):
                    return None
                raise not_found(airport_id)
            outcome, *holders = self.store.delete(stored, marker)
            if outcome == "deleted":
                return None
            if outcome == "held":
                count, some = holders
                raise airport_in_use(count, set(map(trip_of, some)))
            # "changed" (a change got in between: its IATA index entry is another) or "missing": again
        raise changed_meanwhile("airport")

    @rpc
    def hold(self, airport_ids, holder):
        """Record that `holder` (a trip, or one change of a trip's airports: schemas/fields.py)
        references these airports, atomically with checking
        that they all exist; NotFound naming the missing ones, holding none of them."""
        self._check_ids(airport_ids, holder)
        try:
            missing = self.store.hold(list(airport_ids), holder)
        except HoldReleased:
            raise Conflict("This trip's holds were released already; it cannot take new ones.") from None
        if missing:
            raise NotFound("No airport with id " + ", ".join(missing) + ".", missing)

    @rpc
    def release(self, airport_ids, holder):
        """Forget `holder`'s hold on these airports (idempotent)."""
        self._check_ids(airport_ids, holder)
        self.store.release(list(airport_ids), holder)

    @rpc
    def holders(self, airport_id):
        """The ids of the trips holding an airport: for operators."""
        return sorted(set(map(trip_of, self.store.holders(self.get(airport_id)["id"]))))

    @rpc
    def health(self):
        self.store.ping()
        return {"redis": "ok"}

    @staticmethod
    def _check_ids(airport_ids, holder):
        errors = {}
        if not isinstance(airport_ids, (list, tuple)) or not airport_ids or not all(map(is_id, airport_ids)):
            errors["airport_ids"] = ["Must be a non-empty list of airport ids."]
        if not is_holder(holder):
            errors["holder"] = ["Not a valid holder: a trip's id, or a trip's id, a dot and a change's id."]
        if errors:
            raise ValidationError(errors)
