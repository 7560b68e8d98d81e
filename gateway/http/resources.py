"""The Falcon resources: one per path of the route table, whose responders run that path's
operations (gateway/http/runners.py), the same under ASGI and WSGI."""

from falcon.routing import CompiledRouter


class AsgiResource:
    """A path's operations as Falcon ASGI responders."""

    def __init__(self, runner, operations):
        self.runner, self.operations = runner, operations  # method -> Operation

    async def on_get(self, req, resp, **params):
        await self.runner.respond(self.operations["GET"], req, resp, params)

    # RFC 9110 9.3.2: HEAD wherever GET, with the same headers; Falcon drops the body (not its length)
    on_head = on_get

    async def on_post(self, req, resp, **params):
        await self.runner.respond(self.operations["POST"], req, resp, params)

    async def on_patch(self, req, resp, **params):
        await self.runner.respond(self.operations["PATCH"], req, resp, params)

    async def on_delete(self, req, resp, **params):
        await self.runner.respond(self.operations["DELETE"], req, resp, params)

    async def on_options(self, req, resp, **params):
        answer_options(resp, self.operations)


class WsgiResource:
    """A path's operations as Falcon WSGI responders."""

    def __init__(self, runner, operations):
        self.runner, self.operations = runner, operations

    def on_get(self, req, resp, **params):
        self.runner.respond(self.operations["GET"], req, resp, params)

    on_head = on_get

    def on_post(self, req, resp, **params):
        self.runner.respond(self.operations["POST"], req, resp, params)

    def on_patch(self, req, resp, **params):
        self.runner.respond(self.operations["PATCH"], req, resp, params)

    def on_delete(self, req, resp, **params):
        self.runner.respond(self.operations["DELETE"], req, resp, params)

    def on_options(self, req, resp, **params):
        answer_options(resp, self.operations)


class RouteTableRouter(CompiledRouter):
    """Falcon's router, routing to a resource only the methods its path serves in the route table
    (the resource classes above define every responder); Falcon answers the rest with 405."""

    def map_http_methods(self, resource, **kwargs):
        return {method: getattr(resource, f"on_{method.lower()}") for method in allowed_methods(resource.operations)}


def allowed_methods(operations):
    """What `Allow` lists for a path serving `operations`, in a 405 (Falcon's, from the methods
    routed here) and to OPTIONS alike; Falcon's own OPTIONS would leave OPTIONS out."""
    return sorted({*operations, "OPTIONS", *(["HEAD"] if "GET" in operations else [])})


def answer_options(resp, operations):
    resp.status = 200
    resp.set_header("Allow", ", ".join(allowed_methods(operations)))
    resp.content_length = 0
