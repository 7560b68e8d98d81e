"""Running an operation's handler for a Falcon request: one runner for the ASGI app (awaiting the
asyncio client), one for the WSGI app (blocking on the proxy pool). What they share lives in
`Runner`; what is left is how each reads a body and performs an RPC step."""

import asyncio
import time

import falcon

from gateway.http.auth import MUTATING, BearerAuth
from gateway.http.conversation import Conversation
from gateway.http.problems import HTTPProblem, problem_for
from gateway.http.requests import build_request, check_length, too_large
from gateway.metrics import RPC_IN_FLIGHT, observe_rpc
from gateway.rpc.calls import Caller
from gateway.tracing import ENABLED as TRACING
from gateway.tracing import rpc_span


class Runner:
    def __init__(self, rpc, settings):
        self.rpc = rpc
        self.max_body_bytes = settings.max_body_bytes
        self.auth = BearerAuth(settings.tokens) if settings.tokens else None

    def authorize(self, req, op):
        """The caller's client id when auth is on and the operation changes data (else None);
        checked before the body is even read."""
        if self.auth is not None and op.method in MUTATING:
            return self.auth.client_id(req)
        return None

    def start(self, req, params, raw_body, op, client):
        request = build_request(op, req, params, raw_body, lambda: self.rpc.connected, client)
        return Conversation(op.handler(request)), Caller(request.request_id, op.operation_id)

    @staticmethod
    def announce(op, resp, params):
        """The headers of a deprecated operation, on its every response (an error's too)."""
        if op.deprecated is not None:
            for name, value in op.deprecated.headers(params).items():
                resp.set_header(name, value)

    def check_body(self, raw_body):
        if raw_body is not None and len(raw_body) > self.max_body_bytes:
            raise too_large(self.max_body_bytes)
        return raw_body

    @staticmethod
    def finish(resp, response):
        resp.status = response.status
        if response.media_type:
            resp.content_type = response.media_type
            resp.data = response.data
        for name, value in response.headers.items():
            resp.set_header(name, value)

    @staticmethod
    def failure(exc):
        """What to raise for an error that reached the responder: HTTP errors as they are."""
        return exc if isinstance(exc, falcon.HTTPError) else problem_for(exc)


class AsgiRunner(Runner):
    async def respond(self, op, req, resp, params):
        self.announce(op, resp, params)
        try:
            client = self.authorize(req, op)
            raw = await self.read_body(req) if op.body else None
            conversation, caller = self.start(req, params, raw, op, client)
            while conversation.step is not None:
                conversation.feed(*await self.perform(conversation.step, caller))
        except Exception as exc:
            raise self.failure(exc) from exc
        self.finish(resp, conversation.response)

    async def read_body(self, req):
        check_length(req, self.max_body_bytes)
        return self.check_body(await req.stream.read(self.max_body_bytes + 1))

    async def perform(self, step, caller):
        """(result, None) or (None, error); a list of calls runs concurrently, each outcome kept."""
        try:
            if isinstance(step, list):
                return await asyncio.gather(*(self.call(c, caller) for c in step), return_exceptions=True), None
            return await self.call(step, caller), None
        except Exception as exc:
            return None, exc

    async def _traced_call(self, rpc_call, caller):
        with rpc_span(rpc_call):  # gateway/tracing.py
            return await self._call(rpc_call, caller)

    async def _call(self, rpc_call, caller):
        started = time.perf_counter()
        RPC_IN_FLIGHT.inc()
        try:
            result = await self.rpc.call(rpc_call, caller)
        except Exception as exc:
            observe_rpc(rpc_call, started, exc)
            raise
        observe_rpc(rpc_call, started, None)
        return result


class WsgiRunner(Runner):
    def respond(self, op, req, resp, params):
        self.announce(op, resp, params)
        try:
            client = self.authorize(req, op)
            raw = self.read_body(req) if op.body else None
            conversation, caller = self.start(req, params, raw, op, client)
            while conversation.step is not None:
                conversation.feed(*self.perform(conversation.step, caller))
        except Exception as exc:
            raise self.failure(exc) from exc
        self.finish(resp, conversation.response)

    def read_body(self, req):
        check_length(req, self.max_body_bytes)
        # Without Content-Length (chunked), Falcon's bounded stream reads nothing; the server's own
        # stream ends with the body when it says so (gunicorn and waitress set this flag).
        chunked = req.content_length is None and req.env.get("wsgi.input_terminated")
        stream = req.stream if chunked else req.bounded_stream
        try:
            raw = stream.read(self.max_body_bytes + 1)
        except Exception as exc:  # the server could not read it: malformed chunks, a client gone
            raise HTTPProblem(400, "The body could not be read (malformed chunked encoding?).") from exc
        return self.check_body(raw)

    def perform(self, step, caller):
        """(result, None) or (None, error); a list of calls runs one after another, each outcome kept."""
        if isinstance(step, list):
            return [self._outcome(c, caller) for c in step], None
        try:
            return self.call(step, caller), None
        except Exception as exc:
            return None, exc

    def _outcome(self, rpc_call, caller):
        try:
            return self.call(rpc_call, caller)
        except Exception as exc:
            return exc

    def _traced_call(self, rpc_call, caller):
        with rpc_span(rpc_call):  # gateway/tracing.py
            return self._call(rpc_call, caller)

    def _call(self, rpc_call, caller):
        started = time.perf_counter()
        RPC_IN_FLIGHT.inc()
        try:
            result = self.rpc.call(rpc_call, caller)
        except Exception as exc:
            observe_rpc(rpc_call, started, exc)
            raise
        observe_rpc(rpc_call, started, None)
        return result


# Each call in an RPC client span when tracing is on; else the call itself, nothing in between.
AsgiRunner.call = AsgiRunner._traced_call if TRACING else AsgiRunner._call
WsgiRunner.call = WsgiRunner._traced_call if TRACING else WsgiRunner._call
