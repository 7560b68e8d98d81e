"""The real services inside the test process, behind the gateway's two RPC interfaces: the fast tier.

`InProcessServices` runs airports_service, trips_service and greeting_service as nameko
`worker_factory` workers on a real Redis, one worker per call, with the dependencies `nameko run`
would inject, and does to each call what the `rpc` entrypoint and nameko do on the wire: kwargs
through JSON, unknown services and methods refused, a fresh correlation id per call, the workers'
own reply body decoded as the clients decode it. `InProcessRpc` (the WSGI app's ProxyPool) and
`AsyncInProcessRpc` (the ASGI app's AsyncRpcClient) put that behind each app's `rpc=` seam. No
AMQP connection is opened.

It cannot tell you anything about the wire itself, the `release_holds` timer or nameko's
container: the integration tier covers those (docs/design.md, "The fast tier's in-process services").
"""

import asyncio
import inspect
import uuid
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import orjson
import redis
from nameko.exceptions import IncorrectSignature, MethodNotFound
from nameko.exceptions import UnknownService as NamekoUnknownService
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR
from nameko.testing.services import worker_factory

from gateway.rpc.asyncio_client import decode_reply  # the gateway's own reading of a reply
from gateway.rpc.base import AsyncBaseRpcClient, BaseRpcClient
from gateway.rpc.calls import UnknownService
from workers.airports.service import AirportsService
from workers.airports.storage import AirportStore
from workers.greeting.service import GreetingService
from workers.runtime.context import DELIVERY_ID, REQUEST_ID, IncomingCallProvider
from workers.runtime.entrypoint import Rpc, as_wire_error
from workers.runtime.replies import reply_body
from workers.trips.service import TripsService
from workers.trips.storage import TripStore


def new_correlation_id():
    return uuid.uuid4().hex


class ServiceNotRunning(Exception):
    """The service has no queue: what the broker says by returning the publish."""


class InProcessServices:
    """The services this process hosts, sharing one Redis client (as the stores of one `nameko run`
    process share nameko-redis's connection options): `request(...)` is one RPC's round trip."""

    def __init__(self, redis_uri, key_prefix, config=None, services=("airports", "trips", "greeting")):
        # nameko-redis's client, with the options workers.common.storage.RedisStore gives it.
        self.redis = redis.StrictRedis.from_url(
            redis_uri, decode_responses=True, socket_connect_timeout=2, socket_timeout=5
        )
        # The services' own defaults are those of workers/config.yml; a test may override them.
        self.config = dict(config or {})
        makers = {
            "airports": (AirportsService, self._airports_dependencies),
            "trips": (TripsService, self._trips_dependencies),
            "greeting": (GreetingService, self._greeting_dependencies),
        }
        self.hosted = {makers[name][0].name: makers[name] for name in services}
        # Each store registers its Lua scripts once, as RedisStore.start does once per container.
        self.airport_store = AirportStore(self.redis, key_prefix, self.config)
        self.trip_store = TripStore(self.redis, key_prefix, self.config)
        # The services' own IncomingCallProvider: it makes each worker's `incoming` from the worker
        # context nameko builds (request id from the header, delivery id from the correlation id),
        # and labels the worker's log lines with the request id while it runs.
        self.incoming_provider = IncomingCallProvider()
        # A worker's calls to another service run in threads of their own, as the callee runs in a
        # worker (a green thread) of its own under nameko: the caller's log label stays its own.
        self.nested_calls = ThreadPoolExecutor(max_workers=8, thread_name_prefix="in-process-rpc")

    def close(self):
        self.nested_calls.shutdown()
        self.redis.close()

    def request(self, service, method, kwargs, request_id, correlation_id):
        """The reply body (JSON bytes, `{"result", "error"}`) a worker would send for this request.
        ServiceNotRunning when no such service is hosted."""
        if service not in self.hosted:
            raise ServiceNotRunning(service)
        service_cls, dependencies = self.hosted[service]
        try:
            function = self._entrypoint(service_cls, method)
            kwargs = orjson.loads(orjson.dumps(kwargs))  # what reaches a worker is what JSON carries
            try:  # as the entrypoint's check_signature does
                inspect.signature(function).bind(None, **kwargs)
            except TypeError as exc:
                raise IncorrectSignature(str(exc)) from None
            worker_ctx = SimpleNamespace(data={REQUEST_ID: request_id, DELIVERY_ID: correlation_id})
            worker = worker_factory(service_cls, **dependencies(self.incoming_provider.get_dependency(worker_ctx)))
            self.incoming_provider.worker_setup(worker_ctx)
            try:
                result = getattr(worker, method)(**kwargs)
            finally:
                self.incoming_provider.worker_teardown(worker_ctx)
        except Exception as exc:
            return reply_body(None, as_wire_error((type(exc), exc, exc.__traceback__)))
        return reply_body(result, None)

    @staticmethod
    def _entrypoint(service_cls, method):
        function = getattr(service_cls, method, None)
        entrypoints = getattr(function, ENTRYPOINT_EXTENSIONS_ATTR, ())
        if not any(isinstance(entrypoint, Rpc) for entrypoint in entrypoints):
            raise MethodNotFound(method)  # what nameko's RpcConsumer answers for an unknown routing key
        return function

    def _airports_dependencies(self, incoming):
        return {"store": self.airport_store, "incoming": incoming, "metrics": None}

    def _trips_dependencies(self, incoming):
        return {
            "store": self.trip_store,
            "incoming": incoming,
            "metrics": None,
            "config": self.config,
            "airports": InProcessProxy(self, "airports_service", incoming.request_id),
        }

    @staticmethod
    def _greeting_dependencies(incoming):
        return {"incoming": incoming, "metrics": None}


class InProcessProxy:
    """What nameko's RpcProxy gives a worker (`self.airports.hold(...)`): each call a new
    correlation id, the worker's request id passed on, nameko's UnknownService when the service
    is not there."""

    def __init__(self, services, service, request_id):
        self.services, self.service, self.request_id = services, service, request_id

    def __getattr__(self, method):
        def call(**kwargs):
            request = (self.service, method, kwargs, self.request_id, new_correlation_id())
            try:
                body = self.services.nested_calls.submit(self.services.request, *request).result()
            except ServiceNotRunning:
                raise NamekoUnknownService(self.service) from None
            return decode_reply(body)

        return call


class InProcessRpc(BaseRpcClient):
    """The WSGI app's RPC client (ProxyPool's interface: `call`, `connected`, `close`)."""

    def __init__(self, services):
        self.services = services

    @property
    def connected(self):
        return True  # there is no broker to lose

    def call(self, rpc_call, caller):
        try:
            body = self.services.request(
                rpc_call.service, rpc_call.method, rpc_call.kwargs, caller.request_id, new_correlation_id()
            )
        except ServiceNotRunning:
            raise UnknownService(f"Unknown service `{rpc_call.service}`") from None
        return decode_reply(body)

    def close(self):
        pass  # the services belong to whoever made them


class AsyncInProcessRpc(AsyncBaseRpcClient):
    """The ASGI app's RPC client (AsyncRpcClient's interface: `start`, `wait_connected`, `close`,
    `connected`, `call`). Calls run in worker threads, so that the event loop keeps serving other
    requests meanwhile, as it does while the real client waits for a reply."""

    def __init__(self, services):
        self.sync = InProcessRpc(services)

    async def start(self):
        pass

    async def wait_connected(self, timeout):
        return True

    async def close(self):
        pass

    @property
    def connected(self):
        return self.sync.connected

    async def call(self, rpc_call, caller):
        return await asyncio.to_thread(self.sync.call, rpc_call, caller)
