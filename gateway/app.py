"""The gateway's app factories, asgilook-style: settings and the RPC client are passed in, so
tests can choose them; `gateway.asgi` and `gateway.wsgi` call these with the environment's."""

import atexit
import logging

import falcon
import falcon.asgi

from gateway import tracing
from gateway.draining import DrainOnSigterm
from gateway.http.cors import Cors
from gateway.http.middleware import RequestId
from gateway.http.problems import serialize_problem
from gateway.http.ratelimit import RateLimit
from gateway.http.resources import AsgiResource, RouteTableRouter, WsgiResource
from gateway.http.runners import AsgiRunner, WsgiRunner
from gateway.logs import configure_logging
from gateway.metrics import serve_metrics
from gateway.routes import UNLIMITED_PATHS, served_routes
from gateway.rpc.asyncio_client import AsyncRpcClient
from gateway.settings import Settings
from telemetry.metrics import parse_ports

log = logging.getLogger("gateway")


class RpcLifecycle:
    """Connects the asyncio client when the ASGI server starts, closes it when it stops.

    Start-up waits a few seconds for the broker so the first requests do not fail, but no
    longer: a gateway without a broker still starts, answers 503 and reports it on /health/ready.
    """

    def __init__(self, rpc, startup_wait):
        self.rpc, self.startup_wait = rpc, startup_wait

    async def process_startup(self, scope, event):
        await self.rpc.start()
        if not await self.rpc.wait_connected(self.startup_wait):
            log.warning("no broker connection yet; serving 503 until there is one")

    async def process_shutdown(self, scope, event):
        await self.rpc.close()


def create_app(settings=None, rpc=None):
    """The ASGI app (uvicorn gateway.asgi:app)."""
    settings = settings or Settings.from_env()
    rpc = rpc or AsyncRpcClient.from_settings(settings)
    lifecycle = [RpcLifecycle(rpc, settings.rpc_startup_wait), DrainOnSigterm(settings.shutdown_grace)]
    app = falcon.asgi.App(middleware=[*_middleware(settings), *lifecycle], router=RouteTableRouter())
    return _assemble(app, AsgiResource, AsgiRunner(rpc, settings), settings)


def create_wsgi_app(settings=None, rpc=None):
    """The WSGI app (gunicorn gateway.wsgi:app), calling the services through a pool of AMQP links.

    WSGI has no shutdown event: a pool made here is closed (every link closed) when the
    server's worker process exits; one passed in is its owner's to close."""
    from gateway.rpc.proxy_pool import ProxyPool

    settings = settings or Settings.from_env()
    if rpc is None:
        rpc = ProxyPool.from_settings(settings)
        atexit.register(rpc.close)
    app = falcon.App(middleware=_middleware(settings), router=RouteTableRouter())
    return _assemble(app, WsgiResource, WsgiRunner(rpc, settings), settings)


def _middleware(settings):
    middleware = [RequestId()]
    if settings.rate_limit_policy:
        middleware.append(RateLimit(*settings.rate_limit_policy, settings.tokens, UNLIMITED_PATHS))
    if settings.origins:
        middleware.append(
            Cors(
                allow_origins="*" if "*" in settings.origins else settings.origins,
                expose_headers=["Location", "ETag", "X-Request-ID", "Retry-After", "RateLimit", "RateLimit-Policy"],
            )
        )
    return middleware


def _assemble(app, resource_class, runner, settings):
    configure_logging(settings.log_level, settings.log_format)
    log.info("gateway: %s", settings.describe())
    if tracing.ENABLED:
        log.info("gateway: %s", tracing.describe())
    app.set_error_serializer(serialize_problem)
    metrics_apart = serve_metrics(settings.host, parse_ports(settings.metrics_port))
    for path, operations in served_routes(auth=bool(settings.tokens), metrics=not metrics_apart).items():
        app.add_route(path, resource_class(runner, operations))
    return app
