"""`uvicorn gateway.asgi:app`: the ASGI gateway, configured from the environment."""

import gc

from gateway import tracing
from gateway.app import create_app

app = tracing.asgi(create_app())  # HTTP server spans when tracing is on, else the app itself

# What exists now (modules, the app, its routes and schemas) lives as long as the process: freeze
# it out of every collection, and let the young generation grow before it is collected (a request
# allocates hundreds of objects, nearly all freed by reference counting). About 5 % of the
# gateway's CPU per request under load (BENCHMARKS.md); the workers measured worse with it.
gc.collect()
gc.freeze()
gc.set_threshold(50_000, 20, 10)
