"""The article's gateway, verbatim: the GatewayService of "Introduction to Python Microservices With
Nameko" (the article this project grew from), as the bench target `article`, so that the harness
measures the code the article's readers run, calling this project's workers.

Its routes are the article's, not the project's: GET /airport/<id> answers `{"airport": ...}`,
POST /airport `{"airport": name}` and POST /trip `{"airport_from", "airport_to"}` answer the new id
as text with 200; a worker's error is nameko's 500 (no error mapping). bench/routes.py gives the
harness these routes for the target.

It runs as the article runs it (bench/stack.py does this): `nameko run --config <config.yml>
bench.article_gateway` with a config of AMQP_URI and WEB_SERVER_ADDRESS only, so nameko's defaults
hold: max_workers 10, and `nameko run`'s logging (INFO: an access line per request).
"""

import json

from nameko.rpc import RpcProxy
from nameko.web.handlers import http


# The article's text, quotes and blank lines included: a diff against it shows only the adaptation.
# One adaptation, in the two POST routes, forced by this project's workers: airports_service.create
# and trips_service.create return the new record (a dict) where the article's returned its id, and
# nameko's @http entrypoint takes only a string as the body (a dict is a TypeError, answered 500).
# So each takes the record's "id". The GETs are unchanged: the record, a dict, goes into
# json.dumps where the article's string did, and an unknown id raises the workers' NotFound where
# the article's Redis GET returned None, which the article's code leaves to nameko (a 500).
# fmt: off
class GatewayService:
    name = 'gateway'

    airports_rpc = RpcProxy('airports_service')
    trips_rpc = RpcProxy('trips_service')

    @http('GET', '/airport/<string:airport_id>')
    def get_airport(self, request, airport_id):
        airport = self.airports_rpc.get(airport_id)
        return json.dumps({'airport': airport})

    @http('POST', '/airport')
    def post_airport(self, request):
        data = json.loads(request.get_data(as_text=True))
        airport_id = self.airports_rpc.create(data['airport'])['id']  # adapted: the record's id

        return airport_id

    @http('GET', '/trip/<string:trip_id>')
    def get_trip(self, request, trip_id):
        trip = self.trips_rpc.get(trip_id)
        return json.dumps({'trip': trip})

    @http('POST', '/trip')
    def post_trip(self, request):
        data = json.loads(request.get_data(as_text=True))
        trip_id = self.trips_rpc.create(data['airport_from'], data['airport_to'])['id']  # adapted: the record's id

        return trip_id
# fmt: on
