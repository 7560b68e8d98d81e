"""Airports: airports_service's records over HTTP. Each handler is one RPC to the service, which
owns the rules (what is valid, what conflicts)."""

from gateway.http.operations import Reply, created, json_response, no_content, operation, path_id, with_etag
from gateway.rpc.calls import RpcCall
from schemas.airports import Airport, AirportCreate, AirportListQuery, AirportPage, AirportUpdate

SERVICE = "airports_service"
AIRPORT_ID = {"airport_id": "The airport's id (32 lowercase hexadecimal characters)."}
BY_ID = {"airport_id": "$response.body#/id"}
AS_IT_IS = {**BY_ID, "header.If-Match": "$response.header.ETag"}  # a change to the airport as this response has it


@operation(
    tag="airports",
    summary="Create an airport",
    description="A 409 means the IATA code belongs to another airport.",
    body=AirportCreate,
    idempotency_key=True,
    replies={
        201: Reply(
            "The new airport.",
            Airport,
            headers=("Location", "ETag"),
            links={
                "GetAirport": ("getAirport", BY_ID),
                "UpdateAirport": ("updateAirport", AS_IT_IS),
                "DeleteAirport": ("deleteAirport", BY_ID),
            },
        )
    },
    errors=(409, 422),
)
def create_airport(request):
    record = yield RpcCall(SERVICE, "create", {**request.body, "idempotency_key": request.idempotency_key})
    return created(record, f"{request.path}/{record['id']}")


@operation(
    tag="airports",
    summary="Get one airport",
    description="The airport, with an ETag: send it back in If-None-Match to get a 304 while the airport "
    "has not changed.",
    path_params=AIRPORT_ID,
    conditional=True,
    replies={
        200: Reply("The airport.", Airport, headers=("ETag",), links={"UpdateAirport": ("updateAirport", AS_IT_IS)}),
        304: Reply("It has not changed since the ETag given in If-None-Match.", headers=("ETag",)),
    },
    errors=(404,),
)
def get_airport(request):
    record = yield RpcCall(SERVICE, "get", {"airport_id": path_id(request, "airport_id", "airport")})
    return with_etag(request, record)


@operation(
    tag="airports",
    summary="Change an airport",
    description="A JSON Merge Patch of the airport: `name`, `iata` (null: no code), or both. With If-Match "
    "(the ETag of a GET, a create or an earlier change), the change is made only if the airport has not changed "
    "since: else 412, and nothing changes. Without it, the change applies to the airport as it is. A 409 means "
    "the IATA code belongs to another airport (`conflicts_with` names it).",
    path_params=AIRPORT_ID,
    body=AirportUpdate,
    merge_patch=True,
    if_match=True,
    idempotency_key=True,
    replies={
        200: Reply("The airport as it is now.", Airport, headers=("ETag",), links={"GetAirport": ("getAirport", BY_ID)})
    },
    errors=(404, 409, 422),
)
def update_airport(request):
    record = yield RpcCall(
        SERVICE,
        "update",
        {
            "airport_id": path_id(request, "airport_id", "airport"),
            "changes": request.body,
            "if_match": request.if_match,
            "idempotency_key": request.idempotency_key,
        },
    )
    return with_etag(request, record)


@operation(
    tag="airports",
    summary="List airports, oldest first, or find one by its IATA code",
    description="`limit` airports at a time; pass `next_cursor` as `cursor` to get the next page. With `iata`, "
    "the page holding the airport with that code (case does not matter), or an empty page.",
    query=AirportListQuery,
    replies={200: Reply("A page of airports.", AirportPage)},
    errors=(422,),
)
def list_airports(request):
    page = yield RpcCall(SERVICE, "list", request.query)
    return json_response(200, page)


@operation(
    tag="airports",
    summary="Delete an airport",
    description="Refused with 409 while trips use the airport: delete them first.",
    path_params=AIRPORT_ID,
    replies={204: Reply("Deleted.")},
    errors=(404, 409),
)
def delete_airport(request):
    yield RpcCall(SERVICE, "delete", {"airport_id": path_id(request, "airport_id", "airport")})
    return no_content()
