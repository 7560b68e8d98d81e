"""The gateway's logging: every line carries the request id it was written for."""
import contextvars
import logging
import sys

request_id_var = contextvars.ContextVar("request_id", default="-")

FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.request_id = request_id_var.get()
        return True


def configure_logging(level="INFO"):
    """Send the `gateway` loggers to stderr (the server's own loggers are left as it set them)."""
    logger = logging.getLogger("gateway")
    if any(getattr(h, "_gateway", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler._gateway = True
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(logging.Formatter(FORMAT))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
