"""Log filters named in config.yml."""

import logging

from schemas.errors import ServiceUnavailable, TravelError
from telemetry import ENABLED as TRACING
from telemetry import current_ids, with_trace_ids
from telemetry.logsafe import SafeFormatter
from telemetry.passwords import PasswordFilter, mask_passwords  # noqa: F401 (workers/config.yml names it here)
from workers.runtime.context import current_request_id


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record ("-" outside a worker), for the log format to print; with
    tracing on, `trace_id` and `span_id` too (of the current span, "-" outside one)."""

    def filter(self, record):
        record.request_id = current_request_id() or "-"
        if TRACING:
            record.trace_id, record.span_id = current_ids()
        return True


def plain_formatter(format, datefmt=None):
    """The plain format of config.yml, every value escaped (telemetry/logsafe.py); with tracing on,
    the trace and span ids beside the request id (the JSON formatter prints them as they are record
    attributes, and escapes as JSON does)."""
    return SafeFormatter(with_trace_ids(format), datefmt)


class ExpectedErrorFilter(logging.Filter):
    """nameko logs a traceback for every error a worker raises; for a typed answer such as
    NotFound the one-line message says all there is. Outages keep their traceback."""

    def filter(self, record):
        if record.exc_info:
            exc = record.exc_info[1]
            if isinstance(exc, TravelError) and not isinstance(exc, ServiceUnavailable):
                record.exc_info = None
                record.exc_text = None
        return True
