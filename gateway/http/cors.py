"""CORS (CORS_ORIGINS): Falcon's middleware, with the Vary header it leaves out.

Whether a response carries Access-Control-Allow-Origin, and which, depends on the request's Origin
(and a preflight's answer on what it asks for): with CORS on, every response says so, so that no
cache hands one origin's answer, or a no-CORS one, to another."""

import falcon

PREFLIGHT_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"


class Cors(falcon.CORSMiddleware):
    def process_response(self, req, resp, resource, req_succeeded):
        super().process_response(req, resp, resource, req_succeeded)
        preflight = req.method == "OPTIONS" and req.get_header("Access-Control-Request-Method")
        resp.append_header("Vary", PREFLIGHT_VARY if preflight else "Origin")
