"""Log filters named in config.yml."""

import logging

from schemas.errors import ServiceUnavailable, TravelError
from workers.common.context import current_request_id


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record ("-" outside a worker), for the log format to print."""

    def filter(self, record):
        record.request_id = current_request_id() or "-"
        return True


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
