"""The gateway's logging: every line carries the request id it was written for."""

import contextvars
import logging
import sys

from telemetry import ENABLED as TRACING
from telemetry import current_ids, with_trace_ids
from telemetry.passwords import PasswordFilter

request_id_var = contextvars.ContextVar("request_id", default="-")

# With tracing on: "[<request id> <trace id> <span id>]", and the same fields in JSON.
FORMAT = with_trace_ids("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")


class RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.request_id = request_id_var.get()
        if TRACING:
            record.trace_id, record.span_id = current_ids()
        return True


# The libraries the WSGI pool runs (nameko's ClusterRpcProxy on kombu and amqp): their warnings go
# through the gateway's handler, so that they are formatted and masked like the gateway's own.
LIBRARY_LOGGERS = ("nameko", "kombu", "amqp")


def configure_logging(level="INFO", fmt="plain"):
    """Send the `gateway` loggers to stderr, as text or (fmt="json") one JSON object per line.
    The server's own loggers are left as it set them."""
    logger = logging.getLogger("gateway")
    if any(getattr(h, "_gateway", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler._gateway = True
    handler.addFilter(RequestIdFilter())
    handler.addFilter(PasswordFilter())
    if fmt == "json":
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(
            JsonFormatter(
                FORMAT.replace("[", "").replace("]", ""),
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter(FORMAT))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    for name in LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        if not library.handlers:
            library.addHandler(handler)
            library.setLevel(
                max(logging.WARNING, logging.getLevelName(level.upper()) if isinstance(level, str) else level)
            )
            library.propagate = False
