"""The article's gateway, as a bench target (`article`): the design "Introduction to Python
Microservices With Nameko" shows, rebuilt here in the project's own code, route for route, so that
the harness measures what the article's readers run against this project's workers. (The seed asks
that none of the article's code be copied; nothing here differs from it in what it does.)

Its routes are the article's: GET /airport/<id> answers `{"airport": ...}` made by `json.dumps`;
POST /airport takes `{"airport": name}` and POST /trip `{"airport_from", "airport_to"}`, and each
answers the new id as text with 200; a worker's error is nameko's own 500 (no error mapping).
bench/routes.py gives the harness these routes for the target.

It runs as the article runs it (bench/targets.py): `nameko run --config <config.yml>
bench.article_gateway` with AMQP_URI and WEB_SERVER_ADDRESS only, so nameko's defaults hold:
max_workers 10, and `nameko run`'s logging at INFO, an access line per request.
"""

import json

from nameko.rpc import RpcProxy
from nameko.web.handlers import http


class ArticleGateway:
    name = "gateway"  # the article's service name

    airports = RpcProxy("airports_service")
    trips = RpcProxy("trips_service")

    @http("GET", "/airport/<string:airport_id>")
    def read_airport(self, request, airport_id):
        return json.dumps({"airport": self.airports.get(airport_id)})

    @http("POST", "/airport")
    def new_airport(self, request):
        body = json.loads(request.get_data(as_text=True))
        # This project's create returns the record, where the article's returned the id, and
        # nameko's @http takes only text as a body: the id, as the article answers.
        return self.airports.create(body["airport"])["id"]

    @http("GET", "/trip/<string:trip_id>")
    def read_trip(self, request, trip_id):
        return json.dumps({"trip": self.trips.get(trip_id)})

    @http("POST", "/trip")
    def new_trip(self, request):
        body = json.loads(request.get_data(as_text=True))
        return self.trips.create(body["airport_from"], body["airport_to"])["id"]
