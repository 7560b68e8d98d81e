"""/trips: trips_service's records over HTTP."""

from gateway.resources.records import RecordKind, record_operations
from schemas.trips import Trip, TripCreate, TripListQuery, TripPage

TRIPS = RecordKind(
    name="trip",
    plural="trips",
    service="trips_service",
    create_schema=TripCreate,
    record_schema=Trip,
    page_schema=TripPage,
    list_query_schema=TripListQuery,
    create_errors=(409, 422),
    delete_errors=(),
    create_description="Both airports must exist and differ; a 422 names the field at fault.",
    list_description="With `airport`, only the trips from or to that airport.",
    delete_description="Its airports can be deleted once no other trip uses them.",
)

OPERATIONS = record_operations(TRIPS)
