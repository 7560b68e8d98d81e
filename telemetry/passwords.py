"""Passwords out of log lines, in the gateway and the workers alike: every URI's, whoever logged it."""

import logging
import re

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
