"""The article's gateway design, for comparison: a nameko service with `@http` entrypoints that
calls the workers through nameko's `RpcProxy` (one eventlet worker per HTTP request).

It serves the routes of the benchmark's scenarios the way the real gateway answers them:

    GET  /airports/<id>   200 JSON of airports_service.get (404 when there is no such airport)
    POST /airports        201 JSON of airports_service.create(name=...)
    POST /trips           201 JSON of trips_service.create(airport_from, airport_to)
    GET  /airports        200 JSON of airports_service.list(limit=, cursor=) (422 for a bad one)
    GET  /trips           200 JSON of trips_service.list(airport=, limit=, cursor=)

Run (the harness does this with a config file of its own):

    WEB_SERVER_ADDRESS=127.0.0.1:8002 nameko run --config <config.yml> bench.baseline_gateway

Only what the scenarios need is here: no request ids, no idempotency keys, no problem documents.
The JSON is made with the standard library's json module, as in the article.
"""

import json

from nameko.rpc import RpcProxy
from nameko.web.handlers import http
from werkzeug.wrappers import Response

from schemas.errors import Conflict, NotFound, ServiceUnavailable, ValidationError

ERROR_STATUS = ((NotFound, 404), (ValidationError, 422), (Conflict, 409), (ServiceUnavailable, 503))


def error_status(exc):
    """The status a typed error (schemas.errors) is answered with; None for any other exception."""
    return next((code for error, code in ERROR_STATUS if isinstance(exc, error)), None)


def json_response(status, value):
    return Response(json.dumps(value), status=status, mimetype="application/json")


def body_of(request):
    try:
        body = json.loads(request.get_data(as_text=True))
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def query_of(request, names):
    """The query parameters among `names` that were given, as the strings they came as (the
    service validates them, as the gateway's list routes leave it to do)."""
    return {name: request.args[name] for name in names if name in request.args}


def answer(status, call):
    """`status` with the JSON of `call()`, or the status its typed error maps to."""
    try:
        return json_response(status, call())
    except Exception as exc:
        code = error_status(exc)
        if code is None:
            raise  # nameko's http entrypoint answers 500
        return json_response(code, {"detail": str(exc)})


class BaselineGateway:
    name = "baseline_gateway"

    airports_rpc = RpcProxy("airports_service")
    trips_rpc = RpcProxy("trips_service")

    @http("GET", "/airports/<string:airport_id>")
    def get_airport(self, request, airport_id):
        return answer(200, lambda: self.airports_rpc.get(airport_id))

    @http("POST", "/airports")
    def create_airport(self, request):
        body = body_of(request)
        if body is None or "name" not in body:
            return json_response(400, {"detail": "A JSON object with `name` is required."})
        return answer(201, lambda: self.airports_rpc.create(name=body["name"], iata=body.get("iata")))

    @http("POST", "/trips")
    def create_trip(self, request):
        body = body_of(request)
        if body is None or "airport_from" not in body or "airport_to" not in body:
            return json_response(400, {"detail": "A JSON object with `airport_from` and `airport_to` is required."})
        return answer(
            201, lambda: self.trips_rpc.create(airport_from=body["airport_from"], airport_to=body["airport_to"])
        )

    @http("GET", "/airports")
    def list_airports(self, request):
        query = query_of(request, ("limit", "cursor"))
        return answer(200, lambda: self.airports_rpc.list(**query))

    @http("GET", "/trips")
    def list_trips(self, request):
        query = query_of(request, ("airport", "limit", "cursor"))
        return answer(200, lambda: self.trips_rpc.list(**query))
