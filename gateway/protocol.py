"""uvicorn's httptools protocol with the gateway's request limits and read deadline, for both gateways:
`uvicorn --http gateway.protocol:BoundedHttpProtocol ...` (devstack/gateways.py writes the command).

httptools parses as fast as uvicorn gets, but bounds nothing: a header of any size is buffered
whole, and a client may take forever to send a request. Here, before anything reaches the app:
- a request target over MAX_URL_BYTES: 414; more than MAX_HEADER_FIELDS header fields, one over
  MAX_HEADER_FIELD_BYTES or all of them over MAX_HEADER_SECTION_BYTES: 431 (the bytes of an
  unfinished head are counted as they arrive, so memory stays bounded whatever the parser keeps);
- a request (head and body) not received within REQUEST_READ_TIMEOUT seconds of its first byte (a
  connection's first request: of the connection's opening): dropped (408 while the head is incomplete);
- HTTP/1.0 with Transfer-Encoding (RFC 9112 6.1): 400.
Each answer is a problem document, and the connection is closed. uvicorn's methods this overrides
are listed in tests/support/private.py. BENCHMARKS.md, "The bounded protocol", has its cost and
why not h11 (whose buffer limit uvicorn answers with a plain 400, and which costs more CPU).
"""

import functools
import logging

import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from gateway.http.problems import PROBLEM_JSON, HTTPProblem, problem_document
from gateway.settings import Settings

log = logging.getLogger("gateway.server")


@functools.cache
def limits():
    """The settings, read once per process (uvicorn builds a protocol per connection)."""
    return Settings.from_env()


class Refused(Exception):
    """Raised in a parser callback, so that httptools stops and uvicorn calls send_400_response."""


class BoundedHttpProtocol(HttpToolsProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.limits = limits()
        self.refusal = None
        self.head_bytes = 0  # of the request whose head is being read; 0 between requests
        self.body_pending = False  # the head was read, the body not yet
        self.started = 0.0  # loop time of the current request's first byte
        self.read_deadline = None  # timer: armed while a request is incomplete

    def connection_made(self, transport):
        super().connection_made(transport)
        self.started = self.loop.time()  # a connection that sends nothing is dropped in time too
        self.read_deadline = self.loop.call_later(self.limits.request_read_timeout, self.read_timed_out)

    def connection_lost(self, exc):
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data):
        if not self.head_bytes and not self.body_pending and self.read_deadline is None:
            self.started = self.loop.time()  # a request's first bytes (a connection's first: from its opening)
        if not self.body_pending:
            self.head_bytes += len(data)
        super().data_received(data)
        if self.transport.is_closing():
            return
        if self.head_bytes > self.limits.max_url_bytes + self.limits.max_header_section_bytes:
            self.refuse(431, f"The header section is larger than {self.limits.max_header_section_bytes} bytes.")
        elif self.head_bytes or self.body_pending:  # a request is incomplete: it has until its deadline
            if self.read_deadline is None:
                remaining = self.started + self.limits.request_read_timeout - self.loop.time()
                self.read_deadline = self.loop.call_later(max(remaining, 0), self.read_timed_out)
        else:
            self._disarm()

    # httptools' callbacks
    def on_message_begin(self):
        super().on_message_begin()
        self.url_bytes = self.header_fields = self.header_section_bytes = 0

    def on_url(self, url):
        self.url_bytes += len(url)
        if self.url_bytes > self.limits.max_url_bytes:
            self.stop(414, f"The request target is longer than {self.limits.max_url_bytes} bytes.")
        super().on_url(url)

    def on_header(self, name, value):
        size = len(name) + len(value)
        self.header_fields += 1
        self.header_section_bytes += size + 4  # ": " and CRLF
        limits = self.limits
        if self.header_fields > limits.max_header_fields:
            self.stop(431, f"The request has more than {limits.max_header_fields} header fields.")
        if size > limits.max_header_field_bytes:
            self.stop(431, f"A header field is larger than {limits.max_header_field_bytes} bytes.")
        if self.header_section_bytes > limits.max_header_section_bytes:
            self.stop(431, f"The header section is larger than {limits.max_header_section_bytes} bytes.")
        super().on_header(name, value)

    def on_headers_complete(self):
        if self.parser.get_http_version() == "1.0" and any(name == b"transfer-encoding" for name, _ in self.headers):
            self.stop(400, "An HTTP/1.0 request cannot use Transfer-Encoding.")
        self.head_bytes, self.body_pending = 0, True
        super().on_headers_complete()

    def on_message_complete(self):
        self.head_bytes, self.body_pending = 0, False
        super().on_message_complete()

    # answers of its own
    def stop(self, status, detail):
        """Stop parsing: the request gets `status` (send_400_response, which uvicorn calls next)."""
        self.refusal = (status, detail)
        raise Refused(detail)

    def send_400_response(self, msg):
        """uvicorn's answer to whatever httptools refuses: a Refused raised above, or bad HTTP."""
        refusal, self.refusal = self.refusal, None
        self.refuse(*(refusal or (400, "The request is not valid HTTP/1.1.")))

    def refuse(self, status, detail):
        """Answer `status` with a problem document, log it, and close the connection."""
        log.info("refused a request from %s: %s %s", self.client_address(), status, detail)
        body = orjson.dumps({k: v for k, v in problem_document(HTTPProblem(status, detail), None).items() if v})
        head = [STATUS_LINE[status]]
        head += [name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers]
        head += [b"content-type: ", PROBLEM_JSON.encode(), b"\r\ncontent-length: ", str(len(body)).encode()]
        head += [b"\r\nconnection: close\r\n\r\n", body]
        self.transport.write(b"".join(head))
        self.transport.close()
        self._disarm()

    def read_timed_out(self):
        self.read_deadline = None
        if self.transport.is_closing():
            return
        timeout = self.limits.request_read_timeout
        if self.head_bytes and not self.body_pending and (self.cycle is None or self.cycle.response_complete):
            self.refuse(408, f"The request was not received within {timeout:g} seconds.")
            return
        log.info("dropped a connection from %s: no complete request within %gs", self.client_address(), timeout)
        self.transport.close()

    def client_address(self):
        return f"{self.client[0]}:{self.client[1]}" if self.client else "?"

    def _disarm(self):
        if self.read_deadline is not None:
            self.read_deadline.cancel()
            self.read_deadline = None
