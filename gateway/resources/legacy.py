"""The article's routes, answering exactly as its walkthrough prints (deprecated: each names the
operation that replaces it).

`curl -d` sends the JSON with Content-Type application/x-www-form-urlencoded, so these routes
read the body as JSON whatever its type says. Unknown ids are 404s (the article answered null).
"""

import json
from datetime import UTC, datetime

from gateway.http.operations import ApiResponse, Deprecation, Reply, operation, path_id, text_response
from gateway.resources import airports, trips
from gateway.rpc.calls import RpcCall
from schemas.legacy import LegacyAirport, LegacyAirportCreate, LegacyTrip
from schemas.trips import TripCreate

# The day the gateway first marked them deprecated (161ca66). No Sunset (RFC 8594): nobody has
# decided to remove them, and the article's walkthrough still prints them.
DEPRECATED_SINCE = datetime(2026, 11, 27, tzinfo=UTC)


def deprecated(successor):
    return dict(tag="article", deprecated=Deprecation(DEPRECATED_SINCE, successor))


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
    **deprecated("createAirport"),
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
    **deprecated("getAirport"),
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
    **deprecated("createTrip"),
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
    **deprecated("getTrip"),
)
def get_trip_legacy(request):
    record = yield RpcCall(trips.SERVICE, "get", {"trip_id": path_id(request, "trip_id", "trip")})
    return article_json({"trip": {"from": record["airport_from"], "to": record["airport_to"]}})
