"""The gateway's logging: every line carries the request id it was written for."""

import asyncio
import contextvars
import logging
import sys
import time

from telemetry import ENABLED as TRACING
from telemetry import current_ids, with_trace_ids
from telemetry.logsafe import SafeFormatter, escape
from telemetry.passwords import PasswordFilter, mask_passwords

request_id_var = contextvars.ContextVar("request_id", default="-")

# With tracing on: "[<request id> <trace id> <span id>]", and the same fields in JSON.
FORMAT = with_trace_ids("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")


class LoopBatchingHandler(logging.StreamHandler):
    """A StreamHandler that writes the lines of one event-loop turn in one write at the turn's end
    (the ASGI gateway), and other threads' lines at once. `flush()` writes pending lines too. What
    it saves and what a crash loses: docs/design.md, "Gateway logging"."""

    def __init__(self, stream=None):
        super().__init__(stream)
        self._pending = []

    def emit(self, record):
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self.write_line(line, record)

    def write_line(self, line, record=None):
        """`line`, formatted and masked, out at the end of this loop turn, or at once off a loop."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop on this thread
            self.acquire()
            try:
                self.stream.write(line + self.terminator)
                self.stream.flush()
            except Exception:
                if record is not None:
                    self.handleError(record)
            finally:
                self.release()
            return
        if not self._pending:
            loop.call_soon(self.flush)
        self._pending.append(line)

    def flush(self):
        self.acquire()
        try:
            if self._pending:
                lines, self._pending = self._pending, []
                self.stream.write(self.terminator.join(lines) + self.terminator)
            super().flush()
        except Exception:  # a closed or full stream: as StreamHandler, never an error for the caller
            pass
        finally:
            self.release()


class RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.request_id = request_id_var.get()
        if TRACING:
            record.trace_id, record.span_id = current_ids()
        return True


class AccessLog:
    """The one line per request (`gateway.access`, INFO): "<time> INFO gateway.access [<request id>]
    <method> <uri> <status> <ms>ms", formatted and masked as the gateway's handler would.

    In the plain format with tracing off the line is built here and handed to the handler, skipping
    logging's per-record work (why: docs/design.md, "Gateway logging"); otherwise it is a record."""

    def __init__(self):
        self.logger = logging.getLogger("gateway.access")
        self._gateway = logging.getLogger("gateway")  # once: getLogger takes logging's lock
        self._second, self._stamp = None, ""

    def enabled(self):
        """Whether lines are wanted at all (INFO): the caller asks first, before it builds the URI."""
        return self.logger.isEnabledFor(logging.INFO)

    def __call__(self, method, uri, status, elapsed_ms):
        """Write the line; only when `enabled()`."""
        handler = _fast_handler(self._gateway, self.logger)
        if handler is None:
            self.logger.info("%s %s %s %.1fms", method, uri, status, elapsed_ms)
            return
        now = time.time()
        second = int(now)
        if second != self._second:  # logging's default asctime: local time, then ",<ms>"
            self._second, self._stamp = second, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        message = mask_passwords(escape(f"{method} {uri} {status} {elapsed_ms:.1f}ms"))
        handler.write_line(
            f"{self._stamp},{int((now - second) * 1000):03d} INFO gateway.access [{request_id_var.get()}] {message}"
        )


def _fast_handler(gateway_logger, access_logger):
    """The gateway's own handler when it writes the plain format and is the access logger's only
    one (configure_logging, tracing off: none on the access logger itself, none but it on
    `gateway`); else None."""
    handlers = gateway_logger.handlers
    if TRACING or access_logger.handlers or not access_logger.propagate:
        return None
    if len(handlers) != 1 or not getattr(handlers[0], "_plain", False):
        return None
    return handlers[0]


# The libraries under the WSGI pool and the workers' clients (nameko, kombu, amqp), and waitress: their
# warnings go through the gateway's handler, so that they are formatted, escaped and masked like the
# gateway's own.
LIBRARY_LOGGERS = ("nameko", "kombu", "amqp", "waitress")
# The server's own log (uvicorn's "uvicorn.error", at the level uvicorn set): through it too.
SERVER_LOGGER = "uvicorn"


def configure_logging(level="INFO", fmt="plain"):
    """Send the `gateway` loggers to stderr, as text or (fmt="json") one JSON object per line, every
    value escaped (telemetry/logsafe.py); uvicorn's own lines go the same way, at uvicorn's level."""
    logger = logging.getLogger("gateway")
    if any(getattr(h, "_gateway", False) for h in logger.handlers):
        return
    handler = LoopBatchingHandler(sys.stderr)
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
        handler.setFormatter(SafeFormatter(FORMAT))
        handler._plain = True  # AccessLog may write its lines itself
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
    server = logging.getLogger(SERVER_LOGGER)
    if server.handlers:  # uvicorn configured it (its access log is off: the gateway writes its own)
        # written at once, not at the end of a loop turn: its last lines come as the process exits
        direct = logging.StreamHandler(sys.stderr)
        direct.filters, direct.formatter = handler.filters, handler.formatter
        server.handlers = [direct]
