"""Log filters named in config.yml."""

import logging
import re

from schemas.errors import ServiceUnavailable, TravelError
from telemetry import ENABLED as TRACING
from telemetry import current_ids, with_trace_ids
from workers.common.context import current_request_id


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record ("-" outside a worker), for the log format to print; with
    tracing on, `trace_id` and `span_id` too (of the current span, "-" outside one)."""

    def filter(self, record):
        record.request_id = current_request_id() or "-"
        if TRACING:
            record.trace_id, record.span_id = current_ids()
        return True


def plain_formatter(format, datefmt=None):
    """The plain format of config.yml; with tracing on, the trace and span ids beside the request id
    (the JSON formatter prints them as they are record attributes)."""
    return logging.Formatter(with_trace_ids(format), datefmt)


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


# scheme://user:password@ -> scheme://user:***@, for every URI in a text (a `;`-separated AMQP_URI
# names several; nameko and kombu mask only the first one when they log it)
_PASSWORD_IN_URI = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s;'\"]*:)([^@\s;'\"]+)@", re.IGNORECASE)


def mask_passwords(text):
    """`text` with the password of every URI in it replaced by *** (left as it is if masked already)."""
    return _PASSWORD_IN_URI.sub(_mask, text)


def _mask(match):
    return match.group(0) if match.group(2).strip("*") == "" else f"{match.group(1)}***@"


class PasswordFilter(logging.Filter):
    """Masks the password of every URI in a record (its message, and its traceback), whoever
    logged it: on the handler, so that nameko's, kombu's and amqp's own lines pass through it."""

    def filter(self, record):
        message = record.getMessage()
        masked = mask_passwords(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_passwords(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_passwords(record.stack_info)
        return True
