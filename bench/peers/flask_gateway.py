"""The article's advice for an HTTP gateway in front of nameko ("for writing Microservices that
expose an HTTP endpoint, it is recommended that you use another framework, such as Flask ... you
can use flask_nameko"): Flask, calling the workers through flask_nameko's
FlaskPooledClusterRpcProxy, configured as its README shows (NAMEKO_-prefixed keys in app.config,
`rpc.init_app(app)`, then `rpc.<service>.<method>(...)` in the views).

flask_nameko keeps a pool of started nameko ClusterRpcProxy instances (NAMEKO_INITIAL_CONNECTIONS
made at init_app, up to NAMEKO_MAX_CONNECTIONS); a request takes one on its first call, keeps it
in flask.g and returns it in the app context's teardown. flask_nameko 1.4.0 (2017, the last
release) runs unchanged on Flask 3.1: flask.g and app.teardown_appcontext are still there, and
Flask pushes an app context per request, so a proxy is held for one request.

Run (the harness does this: bench/targets.py), threads = the pool size so no thread waits for a proxy:

    FLASK_NAMEKO_AMQP_URI=amqp://guest:guest@127.0.0.1:5672/ \\
    FLASK_NAMEKO_INITIAL_CONNECTIONS=16 FLASK_NAMEKO_MAX_CONNECTIONS=16 \\
    gunicorn -k gthread --threads 16 -w 1 -b 127.0.0.1:8003 bench.peers.flask_gateway:app

The FLASK_ variables reach app.config through Flask's `from_prefixed_env` (values JSON-decoded,
so the counts are ints). Logging is what gunicorn and Flask ship: gunicorn's error log at INFO on
stderr and no access log; Flask's app.logger logs unhandled exceptions.
"""

from flask import Flask, jsonify, request
from flask_nameko import FlaskPooledClusterRpcProxy

from bench.peers import TYPED_ERRORS, error_status

app = Flask(__name__)
app.config.update(
    NAMEKO_AMQP_URI="amqp://guest:guest@localhost",
    NAMEKO_INITIAL_CONNECTIONS=16,
    NAMEKO_MAX_CONNECTIONS=16,
)
app.config.from_prefixed_env()  # FLASK_NAMEKO_AMQP_URI=... -> NAMEKO_AMQP_URI

rpc = FlaskPooledClusterRpcProxy()
rpc.init_app(app)


def typed_error(exc):
    return jsonify(detail=str(exc)), error_status(exc)


for error in TYPED_ERRORS:
    app.register_error_handler(error, typed_error)


def json_body(*fields):
    """The request's JSON object if it has `fields`, else None."""
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) and all(name in body for name in fields) else None


@app.get("/airports/<airport_id>")
def get_airport(airport_id):
    return jsonify(rpc.airports_service.get(airport_id))


@app.post("/airports")
def create_airport():
    body = json_body("name")
    if body is None:
        return jsonify(detail="A JSON object with `name` is required."), 400
    return jsonify(rpc.airports_service.create(name=body["name"], iata=body.get("iata"))), 201


@app.post("/trips")
def create_trip():
    body = json_body("airport_from", "airport_to")
    if body is None:
        return jsonify(detail="A JSON object with `airport_from` and `airport_to` is required."), 400
    return jsonify(rpc.trips_service.create(airport_from=body["airport_from"], airport_to=body["airport_to"])), 201
