"""A small OTLP/HTTP trace receiver: `POST /v1/traces` with an ExportTraceServiceRequest
(protobuf, optionally gzip), decoded with opentelemetry-proto.

The tests start one to see the spans the stack exports; the benchmark starts one as the sink of
a run with tracing on (`python -m bench --tracing 100`), so that export costs what it costs
against a real receiver. `python -m devstack.otlp_sink --port 4318` runs one by itself and prints a
line per span.
"""

import argparse
import gzip
import signal
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KINDS = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
STATUS = {0: "UNSET", 1: "OK", 2: "ERROR"}


@dataclass
class Span:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    kind: str
    attributes: dict
    status: str
    status_message: str
    links: list = field(default_factory=list)  # [(trace_id, span_id, attributes)]
    events: list = field(default_factory=list)  # [name]
    start_ns: int = 0
    end_ns: int = 0

    def __str__(self):
        parent = self.parent_span_id or "-"
        return f"{self.service} {self.kind} {self.name!r} trace={self.trace_id} span={self.span_id} parent={parent}"


def _value(any_value):
    kind = any_value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(v) for v in any_value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in any_value.kvlist_value.values}
    return getattr(any_value, kind)


def _attributes(key_values):
    return {kv.key: _value(kv.value) for kv in key_values}


def decode(body):
    """The spans of one ExportTraceServiceRequest."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans = []
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        service = str(resource.get("service.name", ""))
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    Span(
                        service=service,
                        name=span.name,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        kind=KINDS.get(span.kind, str(span.kind)),
                        attributes=_attributes(span.attributes),
                        status=STATUS.get(span.status.code, str(span.status.code)),
                        status_message=span.status.message,
                        links=[
                            (link.trace_id.hex(), link.span_id.hex(), _attributes(link.attributes))
                            for link in span.links
                        ],
                        events=[event.name for event in span.events],
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                    )
                )
    return spans


class OtlpSink:
    """The receiver, on 127.0.0.1 and a port of its own (0: any free one). `keep=False` only
    counts spans (for benchmarks: no list grows for the length of a run)."""

    def __init__(self, port=0, keep=True, on_span=None):
        self.keep, self.on_span = keep, on_span
        self.spans = []
        self.requests = 0
        self.span_count = 0
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path.rstrip("/") != "/v1/traces":
                    self.send_error(404)
                    return
                try:
                    spans = decode(body)
                except Exception:  # noqa: BLE001 (anything undecodable is the sender's fault)
                    self.send_error(400)
                    return
                sink._received(spans)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"  # OTEL_EXPORTER_OTLP_ENDPOINT
        self._thread = None

    def _received(self, spans):
        with self._changed:
            self.requests += 1
            self.span_count += len(spans)
            if self.keep:
                self.spans.extend(spans)
            self._changed.notify_all()
        if self.on_span:
            for span in spans:
                self.on_span(span)

    def start(self):
        self._thread = threading.Thread(target=self.server.serve_forever, name="otlp-sink", daemon=True)
        self._thread.start()
        return self

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def clear(self):
        with self._lock:
            self.spans.clear()

    def snapshot(self):
        with self._lock:
            return list(self.spans)

    def wait_for(self, predicate, timeout=15.0):
        """Wait until `predicate(spans)` is true; the spans then (or a TimeoutError saying what came)."""
        import time

        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                spans = list(self.spans)
                if predicate(spans):
                    return spans
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("spans received:\n" + "\n".join(map(str, spans[-60:])))
                self._changed.wait(min(remaining, 0.2))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=4318)
    parser.add_argument("--quiet", action="store_true", help="count spans, print nothing per span")
    args = parser.parse_args(argv)
    sink = OtlpSink(args.port, keep=False, on_span=None if args.quiet else print)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # and say how many came, as on Ctrl+C
    print(f"receiving OTLP/HTTP traces at {sink.endpoint}/v1/traces", flush=True)
    try:
        sink.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        print(f"{sink.span_count} spans in {sink.requests} requests", flush=True)


if __name__ == "__main__":
    main()
