"""The article's routes, answering exactly as its walkthrough prints (deprecated: each names the
operation that replaces it).

`curl -d` sends the JSON with Content-Type application/x-www-form-urlencoded, so these routes
read the body as JSON whatever its type says. Unknown ids are 404s (the article answered null).
"""

import json

from gateway.http.operations import ApiResponse, Reply, operation, path_id, text_response
from gateway.resources import airports, trips
from gateway.rpc.calls import RpcCall
from schemas.legacy import LegacyAirport, LegacyAirportCreate, LegacyTrip
from schemas.trips import TripCreate

LEGACY = dict(tag="article", deprecated=True)
NEW_ID = Reply("The new record's id, as plain text.", media_type="text/plain")


def article_json(value):
    """JSON spaced as the article prints it (Python's json.dumps): `{"airport": "first_airport"}`."""
    return ApiResponse(200, json.dumps(value).encode(), "application/json")


@operation(
    summary="Create an airport (the article's route)",
    description="Deprecated: use `createAirport`.",
    body=LegacyAirportCreate,
    any_content_type=True,
    replies={200: NEW_ID},
    errors=(422,),
    **LEGACY,
)
def create_airport_legacy(request):
    record = yield RpcCall(airports.SERVICE, "create", {"name": request.body["airport"]})
    return text_response(200, record["id"])


@operation(
    summary="Get an airport's name (the article's route)",
    description="Deprecated: use `getAirport`.",
    path_params={"airport_id": "The airport's id."},
    replies={200: Reply("The airport's name.", LegacyAirport)},
    errors=(404,),
    **LEGACY,
)
def get_airport_legacy(request):
    record = yield RpcCall(airports.SERVICE, "get", {"airport_id": path_id(request, "airport_id", "airport")})
    return article_json({"airport": record["name"]})


@operation(
    summary="Create a trip (the article's route)",
    description="Deprecated: use `createTrip`.",
    body=TripCreate,
    any_content_type=True,
    replies={200: NEW_ID},
    errors=(422,),
    **LEGACY,
)
def create_trip_legacy(request):
    record = yield RpcCall(trips.SERVICE, "create", request.body)
    return text_response(200, record["id"])


@operation(
    summary="Get a trip's airports (the article's route)",
    description="Deprecated: use `getTrip`.",
    path_params={"trip_id": "The trip's id."},
    replies={200: Reply("The trip's airports.", LegacyTrip)},
    errors=(404,),
    **LEGACY,
)
def get_trip_legacy(request):
    record = yield RpcCall(trips.SERVICE, "get", {"trip_id": path_id(request, "trip_id", "trip")})
    return article_json({"trip": {"from": record["airport_from"], "to": record["airport_to"]}})
