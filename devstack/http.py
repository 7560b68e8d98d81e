"""The one blocking HTTP client of the development stack (drills, bench's seeding and readiness
probe, tests): one keep-alive connection per thread, outcomes timed.

Plain http.client: drills must run anywhere the project installs, and measure the gateway, not
a client library's retries. (bench/loadgen.py is the other kind of client: an asyncio load
generator, written for throughput, which a blocking client cannot give.)"""

import http.client
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field


@dataclass
class Outcome:
    method: str
    path: str
    status: int  # 0: no HTTP answer (connection failed or timed out)
    elapsed: float
    body: bytes = b""
    headers: dict = field(default_factory=dict)
    error: str = ""

    @property
    def ok(self):
        return 200 <= self.status < 300

    def json(self):
        return json.loads(self.body)

    def describe(self):
        detail = self.error or self.body[:200].decode(errors="replace")
        return f"{self.method} {self.path} -> {self.status or 'no answer'} in {self.elapsed:.2f}s {detail}"


class Client:
    def __init__(self, base_url, token=None, timeout=30.0):
        self.base = base_url
        parts = urllib.parse.urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
        self.secure = parts.scheme == "https"
        self.prefix = parts.path.rstrip("/")
        self.token, self.timeout = token, timeout
        self._local = threading.local()

    # Servers close idle keep-alive connections (gunicorn after 2 s); reusing one they are closing
    # fails before any answer. A connection idle this long is replaced rather than trusted.
    MAX_IDLE = 1.0

    def _connection(self):
        connection = getattr(self._local, "connection", None)
        if connection is not None and time.monotonic() - self._local.used > self.MAX_IDLE:
            self.reset()
            connection = None
        self._local.used = time.monotonic()
        if connection is None:
            kind = http.client.HTTPSConnection if self.secure else http.client.HTTPConnection
            connection = self._local.connection = kind(self.host, self.port, timeout=self.timeout)
        return connection

    def request(self, method, path, body=None, headers=None, json_body=None):
        headers = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers.setdefault("Content-Type", "application/json")
        if self.token and method in ("POST", "PUT", "PATCH", "DELETE"):
            headers.setdefault("Authorization", f"Bearer {self.token}")
        started = time.perf_counter()
        connection = self._connection()
        try:
            connection.request(method, self.prefix + path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            outcome = Outcome(
                method,
                path,
                response.status,
                time.perf_counter() - started,
                data,
                {k.lower(): v for k, v in response.getheaders()},
            )
            if response.getheader("connection", "").lower() == "close":
                self.reset()
            return outcome
        except (OSError, http.client.HTTPException) as exc:
            self.reset()
            return Outcome(method, path, 0, time.perf_counter() - started, error=f"{type(exc).__name__}: {exc}")

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, json_body=None, **kwargs):
        return self.request("POST", path, json_body=json_body, **kwargs)

    def reset(self):
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
        self._local.connection = None
