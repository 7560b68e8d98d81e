"""Rate limits (RATE_LIMIT, off by default): a token bucket per client, in each gateway process.

RATE_LIMIT=Q/W lets a client make Q requests in W seconds: a bucket of Q tokens that refills at Q/W
a second, so a quiet client may burst up to Q. A client is its bearer token when it sends a valid
one (API_TOKENS), else its address (as the server sees it: behind a proxy, the proxy's, unless the
server is told to trust its X-Forwarded-For). A request without a token left gets 429, a problem
document with Retry-After; every answer says where its client stands in the IETF's header fields
(draft-ietf-httpapi-ratelimit-headers-11): `RateLimit-Policy: "default";q=Q;w=W` and
`RateLimit: "default";r=<remaining>;t=<seconds until the bucket is full>`. The health checks and
/metrics are never limited. Buckets live in the process: with N processes a client may get up to N
times Q (docs/design.md, "Rate limits").
"""

import math
import threading
import time

from gateway.http.auth import BearerAuth
from gateway.http.problems import HTTPProblem, RateLimited, problem_for


class TokenBuckets:
    """A token bucket per key, at most `max_keys` of them (the least recently used go first: a
    bucket forgotten is a full one, which a client that has waited long enough has anyway)."""

    def __init__(self, quota, window, max_keys=100_000, clock=time.monotonic):
        self.quota, self.window, self.rate = quota, window, quota / window
        self.max_keys, self.clock = max_keys, clock
        self._buckets = {}  # key -> (tokens, when), least recently used first
        self._lock = threading.Lock()  # the WSGI gateway's threads share them

    def take(self, key):
        """(allowed, tokens left) for one request of `key`."""
        now = self.clock()
        with self._lock:
            bucket = self._buckets.pop(key, None)
            tokens = self.quota if bucket is None else min(self.quota, bucket[0] + (now - bucket[1]) * self.rate)
            allowed = tokens >= 1
            if allowed:
                tokens -= 1
            self._buckets[key] = (tokens, now)
            if len(self._buckets) > self.max_keys:
                del self._buckets[next(iter(self._buckets))]
        return allowed, tokens

    def __len__(self):
        return len(self._buckets)


class RateLimit:
    """Falcon middleware (both apps) applying TokenBuckets to every request but those of
    `unlimited_paths` (the route table's UNLIMITED_PATHS: the health checks and /metrics)."""

    def __init__(self, quota, window, tokens=(), unlimited_paths=frozenset()):
        self.buckets = TokenBuckets(quota, window)
        self.unlimited_paths = unlimited_paths
        self.auth = BearerAuth(tokens) if tokens else None
        self.policy = f'"default";q={quota};w={window:g}'

    def client(self, req):
        if self.auth is not None and req.get_header("Authorization"):
            try:
                return "token:" + self.auth.client_id(req)
            except HTTPProblem:
                pass  # not a valid token: the address it came from is the client
        return "address:" + (req.remote_addr or "-")

    def process_request(self, req, resp):
        if req.path in self.unlimited_paths:
            return
        allowed, tokens = self.buckets.take(self.client(req))
        buckets = self.buckets
        reset = math.ceil((buckets.quota - tokens) / buckets.rate)
        req.context.rate_limit = {"RateLimit-Policy": self.policy, "RateLimit": f'"default";r={int(tokens)};t={reset}'}
        if not allowed:
            retry_after = str(math.ceil((1 - tokens) / buckets.rate))
            detail = f"More than {buckets.quota} requests in {buckets.window:g} seconds; retry after Retry-After."
            raise problem_for(RateLimited(detail, {"Retry-After": retry_after, **req.context.rate_limit}))

    def process_response(self, req, resp, resource, req_succeeded):
        headers = getattr(req.context, "rate_limit", None)
        if headers:
            resp.set_headers(headers)

    async def process_request_async(self, req, resp):
        self.process_request(req, resp)

    async def process_response_async(self, req, resp, resource, req_succeeded):
        self.process_response(req, resp, resource, req_succeeded)
