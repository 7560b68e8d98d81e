"""One synchronous test client for both apps, so every API test runs against ASGI and WSGI alike.

WSGI: falcon.testing.TestClient. ASGI: falcon.testing.ASGIConductor kept open on an event loop
in a thread of its own, so the app's lifespan (connecting the RPC client) happens once, and
requests from several test threads can be in flight together.
"""

import asyncio
import threading

from falcon import testing


class WsgiClient:
    def __init__(self, app, on_close=None):
        self.client, self.on_close = testing.TestClient(app), on_close

    def request(self, method, path, **kwargs):
        return self.client.simulate_request(method, path, **kwargs)

    def close(self):
        if self.on_close:
            self.on_close()


class AsgiClient:
    def __init__(self, app):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.conductor = testing.ASGIConductor(app)
        self._run(self.conductor.__aenter__())

    def _run(self, coroutine, timeout=60):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def request(self, method, path, **kwargs):
        return self._run(self.conductor.simulate_request(method, path, **kwargs))

    def close(self):
        self._run(self.conductor.__aexit__(None, None, None))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class Api:
    """`api.get("/airports")`, `api.post("/airports", json={...})`: a falcon.testing.Result back."""

    def __init__(self, client, kind):
        self.client, self.kind = client, kind

    def request(self, method, path, **kwargs):
        return self.client.request(method, path, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)

    def close(self):
        self.client.close()


# What the in-process apps' Settings say the broker is: nothing may connect to it, and nothing does
# (their RPC is given to the factories), so a name that cannot resolve makes that plain.
NO_BROKER = "amqp://guest:guest@no-broker.invalid:5672/"


def in_process_api(kind, services, **settings):
    """An Api on a new ASGI or WSGI app with these Settings, calling `services`
    (tests/support/inprocess.py) in this process instead of over a broker."""
    from gateway.settings import Settings
    from tests.support.inprocess import AsyncInProcessRpc, InProcessRpc

    rpc = AsyncInProcessRpc(services) if kind == "asgi" else InProcessRpc(services)
    return api_for(kind, Settings(amqp_uri=NO_BROKER, **settings), rpc)


def api_for(kind, settings, rpc=None):
    """An Api on a new ASGI or WSGI app with these settings (and RPC client, when given)."""
    from gateway.app import create_app, create_wsgi_app
    from gateway.rpc.proxy_pool import ProxyPool

    if kind == "asgi":
        return Api(AsgiClient(create_app(settings, rpc)), kind)
    pool = rpc or ProxyPool.from_settings(settings)
    return Api(WsgiClient(create_wsgi_app(settings, pool), on_close=pool.close), kind)
