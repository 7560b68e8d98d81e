"""Trips: trips_service's records over HTTP. Each handler is one RPC to the service, which owns
the rules (both airports must exist and differ)."""

from gateway.http.operations import Reply, created, json_response, no_content, operation, path_id, with_etag
from gateway.rpc.calls import RpcCall
from schemas.trips import Trip, TripCreate, TripListQuery, TripPage

SERVICE = "trips_service"
TRIP_ID = {"trip_id": "The trip's id (32 lowercase hexadecimal characters)."}
BY_ID = {"trip_id": "$response.body#/id"}


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
            links={"GetTrip": ("getTrip", BY_ID), "DeleteTrip": ("deleteTrip", BY_ID)},
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
        200: Reply("The trip.", Trip, headers=("ETag",)),
        304: Reply("It has not changed since the ETag given in If-None-Match.", headers=("ETag",)),
    },
    errors=(404,),
)
def get_trip(request):
    record = yield RpcCall(SERVICE, "get", {"trip_id": path_id(request, "trip_id", "trip")})
    return with_etag(request, record)


@operation(
    tag="trips",
    summary="List trips, oldest first",
    description="`limit` trips at a time; pass `next_cursor` as `cursor` to get the next page. With "
    "`airport`, only the trips from or to that airport.",
    query=TripListQuery,
    replies={200: Reply("A page of trips.", TripPage)},
    errors=(422,),
)
def list_trips(request):
    page = yield RpcCall(SERVICE, "list", request.query)
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
