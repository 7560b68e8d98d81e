"""Trips: trips_service's records over HTTP. Each handler is one RPC to the service, which owns
the rules (both airports must exist and differ)."""

from gateway.http.operations import Reply, created, json_response, no_content, operation, path_id, with_etag
from gateway.rpc.calls import RpcCall
from schemas.trips import AirportTripsQuery, Trip, TripCreate, TripListQuery, TripPage, TripUpdate

SERVICE = "trips_service"
TRIP_ID = {"trip_id": "The trip's id (32 lowercase hexadecimal characters)."}
BY_ID = {"trip_id": "$response.body#/id"}
AS_IT_IS = {**BY_ID, "header.If-Match": "$response.header.ETag"}  # a change to the trip as this response has it


@operation(
    tag="trips",
    summary="Create a trip",
    description="Both airports must exist and differ; a 422 names the field at fault.",
    body=TripCreate,
    idempotency_key=True,
    replies={
        201: Reply(
            "The new trip.",
            Trip,
            headers=("Location", "ETag"),
            links={
                "GetTrip": ("getTrip", BY_ID),
                "UpdateTrip": ("updateTrip", AS_IT_IS),
                "DeleteTrip": ("deleteTrip", BY_ID),
            },
        )
    },
    errors=(409, 422),
)
def create_trip(request):
    record = yield RpcCall(SERVICE, "create", {**request.body, "idempotency_key": request.idempotency_key})
    return created(record, f"{request.path}/{record['id']}")


@operation(
    tag="trips",
    summary="Get one trip",
    description="The trip, with an ETag: send it back in If-None-Match to get a 304 while the trip has not changed.",
    path_params=TRIP_ID,
    conditional=True,
    replies={
        200: Reply("The trip.", Trip, headers=("ETag",), links={"UpdateTrip": ("updateTrip", AS_IT_IS)}),
        304: Reply("It has not changed since the ETag given in If-None-Match.", headers=("ETag",)),
    },
    errors=(404,),
)
def get_trip(request):
    record = yield RpcCall(SERVICE, "get", {"trip_id": path_id(request, "trip_id", "trip")})
    return with_etag(request, record)


@operation(
    tag="trips",
    summary="Change a trip's airports",
    description="A JSON Merge Patch of the trip: `airport_from`, `airport_to`, or both; they must exist and "
    "differ (a 422 names the field at fault). The new airports are held before the trip points at them, the old "
    "ones released after: an old airport can then be deleted, a new one cannot. With If-Match (the ETag of a GET, "
    "a create or an earlier change), the change is made only if the trip has not changed since: else 412, and "
    "nothing changes.",
    path_params=TRIP_ID,
    body=TripUpdate,
    merge_patch=True,
    if_match=True,
    idempotency_key=True,
    replies={200: Reply("The trip as it is now.", Trip, headers=("ETag",), links={"GetTrip": ("getTrip", BY_ID)})},
    errors=(404, 409, 422),
)
def update_trip(request):
    record = yield RpcCall(
        SERVICE,
        "update",
        {
            "trip_id": path_id(request, "trip_id", "trip"),
            "changes": request.body,
            "if_match": request.if_match,
            "idempotency_key": request.idempotency_key,
        },
    )
    return with_etag(request, record)


@operation(
    tag="trips",
    summary="List trips, oldest first",
    description="`limit` trips at a time; pass `next_cursor` as `cursor` to get the next page. With "
    "`airport`, only the trips from or to that airport (404 when no airport has that id), as "
    "`listAirportTrips` lists them.",
    query=TripListQuery,
    replies={200: Reply("A page of trips.", TripPage)},
    errors=(404, 422),
)
def list_trips(request):
    page = yield RpcCall(SERVICE, "list", request.query)
    return json_response(200, page)


@operation(
    tag="trips",
    summary="List an airport's trips, oldest first",
    description="The trips from or to the airport, `limit` at a time; pass `next_cursor` as `cursor` to get the "
    "next page. 404 when no airport has that id.",
    path_params={"airport_id": "The airport's id (32 lowercase hexadecimal characters)."},
    query=AirportTripsQuery,
    replies={200: Reply("A page of the airport's trips.", TripPage)},
    errors=(404, 422),
)
def list_airport_trips(request):
    airport_id = path_id(request, "airport_id", "airport")
    page = yield RpcCall(SERVICE, "list", {**request.query, "airport": airport_id})
    return json_response(200, page)


@operation(
    tag="trips",
    summary="Delete a trip",
    description="Its airports can be deleted once no other trip uses them.",
    path_params=TRIP_ID,
    replies={204: Reply("Deleted.")},
    errors=(404,),
)
def delete_trip(request):
    yield RpcCall(SERVICE, "delete", {"trip_id": path_id(request, "trip_id", "trip")})
    return no_content()
