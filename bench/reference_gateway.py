"""The yardstick for gateway CPU: a Falcon ASGI handler on uvicorn reading Redis directly, the
reference the benchmark issue gives ("about 160 µs of CPU per request" on its machine).

It is the floor, not a gateway: one route, GET /airports/{airport_id}, one Redis GET (redis.asyncio,
a connection pool, hiredis parsing when installed) and the stored JSON passed through untouched.
No validation, no middleware, no metrics, no RPC, no error documents. Measured side by side with
the real gateways in the same run, it lets a reader scale our figures to their own machine.

    200  the airport record exactly as airports_service stored it (application/json)
    404  {"detail":"not found"}, which also answers the harness's readiness probe

Configured from REDIS_URI and REDIS_KEY_PREFIX (the values the harness gives the workers, so it
reads what they wrote). Run (the harness does this, with the asgi target's uvicorn flags):

    uvicorn bench.reference_gateway:app --loop uvloop --http httptools --no-access-log
"""

import os

import falcon
import falcon.asgi
import redis.asyncio

NOT_FOUND = b'{"detail":"not found"}'


def record_key(prefix, airport_id):
    # AirportStore.record_key (workers/airports/storage.py): Keyspace(prefix, "airports")("record", id)
    # from workers/common/storage.py, written out because that module imports nameko (its DependencyProvider), hence
    # nameko and eventlet, which have no business in the floor. tests/bench checks the two agree.
    return f"{prefix}{{airports}}:record:{airport_id}"


class Airport:
    def __init__(self, client, prefix):
        self.client, self.prefix = client, prefix

    async def on_get(self, req, resp, airport_id):
        raw = await self.client.get(record_key(self.prefix, airport_id))
        resp.content_type = falcon.MEDIA_JSON
        if raw is None:
            resp.status, resp.data = falcon.HTTP_404, NOT_FOUND
        else:
            resp.data = raw


def create_app(redis_uri, prefix):
    # The pool connects lazily, inside uvicorn's event loop, one connection per concurrent request.
    client = redis.asyncio.Redis.from_url(redis_uri)
    app = falcon.asgi.App()
    app.add_route("/airports/{airport_id}", Airport(client, prefix))
    return app


app = create_app(os.environ.get("REDIS_URI", "redis://127.0.0.1:6379/0"), os.environ.get("REDIS_KEY_PREFIX", "travel:"))
