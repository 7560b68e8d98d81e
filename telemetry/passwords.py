"""Passwords out of log lines, in the gateway and the workers alike: every URI's, and the values of
query parameters named like secrets (`?access_token=...`), whoever logged them."""

import logging
import re
import urllib.parse

# scheme://user:password@ -> scheme://user:***@, for every URI in a text (a `;`-separated AMQP_URI
# names several; nameko and kombu mask only the first one when they log it)
_PASSWORD_IN_URI = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s;'\"]*:)([^@\s;'\"]+)@", re.IGNORECASE)
# ?token=... or &client_secret=... -> ?token=***: a parameter whose name (percent-decoded) is, or
# ends in, a word for a secret
SECRET_PARAMETER_WORDS = ("token", "key", "apikey", "password", "passwd", "pwd", "secret", "signature", "sig", "auth")
_PARAMETER = re.compile(r"([?&;])([^=&;#\s?]+)=([^&;#\s]+)")
_SECRET_NAME = re.compile(r"(?:.*[_.-])?(?:" + "|".join(SECRET_PARAMETER_WORDS) + ")", re.IGNORECASE | re.DOTALL)


def mask_passwords(text):
    """`text` with the password of every URI in it, and the value of every query parameter named
    like a secret, replaced by *** (left as it is if masked already)."""
    if "=" in text:
        text = _PARAMETER.sub(_mask_parameter, text)
    return _PASSWORD_IN_URI.sub(_mask, text) if "://" in text else text


def _mask(match):
    return match.group(0) if match.group(2).strip("*") == "" else f"{match.group(1)}***@"


def _mask_parameter(match):
    separator, name, value = match.groups()
    if value == "***" or not _SECRET_NAME.fullmatch(urllib.parse.unquote_plus(name)):
        return match.group(0)
    return f"{separator}{name}=***"


class PasswordFilter(logging.Filter):
    """Masks the passwords in a record (its message, and its traceback), whoever logged it: on
    the handler, so that nameko's, kombu's and amqp's own lines pass through it."""

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
