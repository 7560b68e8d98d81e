"""The article's routes, answering exactly as its walkthrough prints (deprecated: use /airports, /trips).

`curl -d` sends the JSON with Content-Type application/x-www-form-urlencoded, so these routes
read the body as JSON whatever its type says. Unknown ids are 404s (the article answered null).
"""

import json

from gateway.http.operations import ApiResponse, Reply, operation, text_response
from gateway.resources.airports import AIRPORTS
from gateway.resources.records import existing_id
from gateway.resources.trips import TRIPS
from gateway.rpc.calls import RpcCall
from schemas.legacy import LegacyAirport, LegacyAirportCreate, LegacyTrip
from schemas.trips import TripCreate

LEGACY = dict(tag="article", deprecated=True)
NEW_ID = Reply("The new record's id, as plain text.", media_type="text/plain")


def article_json(value):
    """JSON spaced as the article prints it (Python's json.dumps): `{"airport": "first_airport"}`."""
    return ApiResponse(200, json.dumps(value).encode(), "application/json")


@operation(
    "POST",
    "/airport",
    "createAirportLegacy",
    summary="Create an airport (the article's route)",
    description="Use POST /airports.",
    body=LegacyAirportCreate,
    any_content_type=True,
    replies={200: NEW_ID},
    errors=(422,),
    **LEGACY,
)
def create_airport(request):
    record = yield RpcCall(AIRPORTS.service, "create", {"name": request.body["airport"]})
    return text_response(200, record["id"])


@operation(
    "GET",
    "/airport/{airport_id}",
    "getAirportLegacy",
    summary="Get an airport's name (the article's route)",
    description="Use GET /airports/{airport_id}.",
    path_params={"airport_id": "The airport's id."},
    replies={200: Reply("The airport's name.", LegacyAirport)},
    errors=(404,),
    **LEGACY,
)
def get_airport(request):
    record = yield RpcCall(AIRPORTS.service, "get", {"airport_id": existing_id(request, AIRPORTS)})
    return article_json({"airport": record["name"]})


@operation(
    "POST",
    "/trip",
    "createTripLegacy",
    summary="Create a trip (the article's route)",
    description="Use POST /trips.",
    body=TripCreate,
    any_content_type=True,
    replies={200: NEW_ID},
    errors=(422,),
    **LEGACY,
)
def create_trip(request):
    record = yield RpcCall(TRIPS.service, "create", request.body)
    return text_response(200, record["id"])


@operation(
    "GET",
    "/trip/{trip_id}",
    "getTripLegacy",
    summary="Get a trip's airports (the article's route)",
    description="Use GET /trips/{trip_id}.",
    path_params={"trip_id": "The trip's id."},
    replies={200: Reply("The trip's airports.", LegacyTrip)},
    errors=(404,),
    **LEGACY,
)
def get_trip(request):
    record = yield RpcCall(TRIPS.service, "get", {"trip_id": existing_id(request, TRIPS)})
    return article_json({"trip": {"from": record["airport_from"], "to": record["airport_to"]}})


OPERATIONS = [create_airport, get_airport, create_trip, get_trip]
