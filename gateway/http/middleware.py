"""Middleware for both apps: the request id, one access log line and the HTTP metrics per request.

Each method has a sync form (WSGI) and an `_async` form (ASGI) that calls it: Falcon picks
the one its app kind needs."""

import re
import time
from random import getrandbits

from gateway.logs import AccessLog, request_id_var
from gateway.metrics import HTTP_IN_FLIGHT, http_duration, http_requests, method_label, status_label
from gateway.tracing import ENABLED as TRACING
from gateway.tracing import server_span_route

access_log = AccessLog()

_ACCEPTABLE_ID = re.compile(r"[\x21-\x7e]{1,128}")


class RequestId:
    """X-Request-ID: the client's when it is sane (1-128 visible ASCII characters), otherwise
    a new one; echoed on the response, set for log lines, passed on to the workers."""

    def process_request(self, req, resp):
        given = req.get_header("X-Request-ID")
        request_id = given if given and _ACCEPTABLE_ID.fullmatch(given) else f"{getrandbits(128):032x}"
        req.context.request_id = request_id
        req.context.started = time.perf_counter()
        request_id_var.set(request_id)
        HTTP_IN_FLIGHT.inc()

    def process_response(self, req, resp, resource, req_succeeded):
        request_id = getattr(req.context, "request_id", None)
        if request_id is None:  # the request never reached process_request
            return
        resp.set_header("X-Request-ID", request_id)
        elapsed = time.perf_counter() - req.context.started
        HTTP_IN_FLIGHT.dec()
        route = req.uri_template or "unmatched"  # a template, never the raw path: bounded labels
        method = method_label(req.method)
        http_requests(route, method, status_label(resp.status_code)).inc()
        http_duration(route, method).observe(elapsed)
        if TRACING:
            server_span_route(req.method, req.uri_template)
        if access_log.enabled():
            access_log(req.method, req.relative_uri, resp.status_code, elapsed * 1000)

    async def process_request_async(self, req, resp):
        self.process_request(req, resp)

    async def process_response_async(self, req, resp, resource, req_succeeded):
        self.process_response(req, resp, resource, req_succeeded)
