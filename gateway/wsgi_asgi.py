"""`uvicorn gateway.wsgi_asgi:app`: the WSGI gateway as it ships, on uvicorn (devstack/gateways.py).

The WSGI app (falcon.App, the pool of blocking AMQP links, one blocking call per thread) runs on THREADS
threads, a2wsgi's; uvicorn reads requests on its event loop, with the limits and the read deadline of
gateway/protocol.py, and `WholeRequests` hands a request to a thread only once its body is in. So a
slow client holds no thread: 50 of them sending a byte a second leave everyone else served
(README, "Running the gateways", has the figures of this, gunicorn's gthread and waitress).
"""

from a2wsgi import WSGIMiddleware

from gateway.draining import on_sigterm
from gateway.settings import Settings
from gateway.wsgi import app as wsgi_app


class WholeRequests:
    """ASGI middleware: reads a request's body whole, up to `limit` + 1 bytes (enough for the app
    to answer 413), then calls `app` with it in one piece and a Content-Length that says so (a
    chunked body too)."""

    def __init__(self, app, limit, grace=0.0):
        self.app, self.limit, self.grace = app, limit, grace

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await self.lifespan(receive, send)
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        chunks, size, more = [], 0, True
        while more and size <= self.limit:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body or any(name == b"transfer-encoding" for name, _ in scope["headers"]):
            headers = [(n, v) for n, v in scope["headers"] if n not in (b"content-length", b"transfer-encoding")]
            length = str(len(body) if not more else max(len(body), self._declared(scope))).encode()
            scope = {**scope, "headers": [*headers, (b"content-length", length)]}
        delivered = False

        async def whole():
            nonlocal delivered
            if delivered:
                return await receive()  # the disconnect, if the app waits for one
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, whole, send)

    async def lifespan(self, receive, send):
        """What the ASGI app's middleware does at start-up (gateway/app.py): take SIGTERM over for
        SHUTDOWN_GRACE, now that uvicorn has installed its handler. The WSGI app has no such event."""
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                on_sigterm(self.grace)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    @staticmethod
    def _declared(scope):
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit():
                return int(value)
        return 0


def make_app(settings=None):
    settings = settings or Settings.from_env()
    wrapped = WSGIMiddleware(wsgi_app, workers=settings.server_threads)
    return WholeRequests(wrapped, settings.max_body_bytes, settings.shutdown_grace)


app = make_app()
