"""/airports: airports_service's records over HTTP."""

from gateway.resources.records import RecordKind, record_operations
from schemas.airports import Airport, AirportCreate, AirportListQuery, AirportPage

AIRPORTS = RecordKind(
    name="airport",
    plural="airports",
    service="airports_service",
    create_schema=AirportCreate,
    record_schema=Airport,
    page_schema=AirportPage,
    list_query_schema=AirportListQuery,
    create_errors=(409, 422),
    delete_errors=(409,),
    create_description="A 409 means the IATA code belongs to another airport.",
    delete_description="Refused with 409 while trips use the airport: delete them first.",
)

OPERATIONS = record_operations(AIRPORTS)
