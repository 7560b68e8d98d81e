"""Peer designs measured beside our gateways: other people's advice on putting an HTTP framework in
front of nameko, each written the way its own documentation shows and calling the same workers
(airports_service.get/create, trips_service.create) over nameko RPC:

    flask     bench/peers/flask_gateway.py: Flask with flask_nameko's pooled ClusterRpcProxy, the
              article's advice, under gunicorn -k gthread
    fastapi   bench/peers/fastapi_gateway.py: FastAPI with nameko-devex's queue of ClusterRpcProxy
              instances, sync endpoints in FastAPI's threadpool, under uvicorn

They serve the baseline's routes (bench/baseline_gateway.py) with its statuses: GET /airports/<id>
200 (404 when there is no such airport), POST /airports 201, POST /trips 201, 400 for a body
without the fields, and the workers' typed errors as the baseline's ERROR_STATUS maps them.
bench/targets.py starts them (targets `flask` and `fastapi`).
"""

from bench.baseline_gateway import ERROR_STATUS, error_status

# The typed errors (schemas.errors) the peers answer with a status of their own; importing the
# table also registers them with nameko, so RPC replies come back as these types.
TYPED_ERRORS = tuple(error for error, _ in ERROR_STATUS)
__all__ = ["TYPED_ERRORS", "error_status"]  # error_status: the baseline's own, for the peers
