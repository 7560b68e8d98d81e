"""nameko-devex's gateway design (github.com/gitricko/nameko-devex, gateapi/, PR #7, 2021): FastAPI
with a module-level pool of started nameko ClusterRpcProxy instances in a queue.Queue, handed to
plain `def` endpoints (run in FastAPI's threadpool) by a yield dependency (`Depends(get_rpc)`);
each call borrows a proxy with `with rpc.next() as nameko:` and puts it back after.

It differs from nameko-devex where nameko 2 or FastAPI's documented ways ask it to: the pool in a
lifespan handler, settings from the environment (AMQP_URI, RPC_POOL_SIZE, THREADS), errors through
exception handlers (docs/design.md, "The FastAPI peer"). Run (bench/targets.py does):

    AMQP_URI=amqp://guest:guest@127.0.0.1:5672/ RPC_POOL_SIZE=16 THREADS=16 \
    uvicorn bench.peers.fastapi_gateway:app --port 8004 --loop uvloop --http httptools

It logs as uvicorn ships: INFO, with an access line per request (`uvicorn.access`).
"""

import os
import queue
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated

import anyio.to_thread
from fastapi import Depends, FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from nameko.standalone.rpc import ClusterRpcProxy
from pydantic import BaseModel

from bench.peers import TYPED_ERRORS, error_status

AMQP_URI = os.environ.get("AMQP_URI", "amqp://guest:guest@localhost")
POOL_SIZE = int(os.environ.get("RPC_POOL_SIZE", "16"))
THREADS = int(os.environ.get("THREADS", "16"))


class ClusterRpcProxyPool:
    """`pool_size` started ClusterRpcProxy instances in a queue; `with pool.next() as rpc:` lends
    one to the calling thread (waiting for one if all are lent) and puts it back after."""

    def __init__(self, uri, timeout=None, pool_size=2):
        self.config = {"AMQP_URI": uri}
        self.timeout = timeout
        self.pool_size = pool_size
        self.queue = None

    def start(self):
        self.queue = queue.Queue()
        for _ in range(self.pool_size):
            proxy = ClusterRpcProxy(self.config, timeout=self.timeout)
            self.queue.put((proxy, proxy.start()))

    @contextmanager
    def next(self, timeout=None):
        proxy, rpc = self.queue.get(timeout=timeout)
        try:
            yield rpc
        finally:
            self.queue.put((proxy, rpc))

    def stop(self):
        while True:
            try:
                proxy, _ = self.queue.get_nowait()
            except queue.Empty:
                break
            proxy.stop()


NAMEKO_POOL = ClusterRpcProxyPool(AMQP_URI, pool_size=POOL_SIZE)


@asynccontextmanager
async def lifespan(app):
    anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
    NAMEKO_POOL.start()
    yield
    NAMEKO_POOL.stop()


app = FastAPI(lifespan=lifespan)


async def typed_error(request, exc):
    return JSONResponse({"detail": str(exc)}, status_code=error_status(exc))


for error in TYPED_ERRORS:
    app.add_exception_handler(error, typed_error)


@app.exception_handler(RequestValidationError)
async def malformed_body(request, exc):
    return JSONResponse({"detail": jsonable_encoder(exc.errors())}, status_code=400)


def get_rpc():
    yield NAMEKO_POOL


Rpc = Annotated[ClusterRpcProxyPool, Depends(get_rpc)]


class NewAirport(BaseModel):
    name: str
    iata: str | None = None


class NewTrip(BaseModel):
    airport_from: str
    airport_to: str


@app.get("/airports/{airport_id}")
def get_airport(airport_id: str, rpc: Rpc):
    with rpc.next() as nameko:
        return nameko.airports_service.get(airport_id)


@app.post("/airports", status_code=201)
def create_airport(airport: NewAirport, rpc: Rpc):
    with rpc.next() as nameko:
        return nameko.airports_service.create(name=airport.name, iata=airport.iata)


@app.post("/trips", status_code=201)
def create_trip(trip: NewTrip, rpc: Rpc):
    with rpc.next() as nameko:
        return nameko.trips_service.create(airport_from=trip.airport_from, airport_to=trip.airport_to)
