"""No value can forge a log line (CWE-117): the gateway's and the workers' formatters escape every
control character of whatever a record holds, in the plain format and in JSON, and mask the
values of query parameters named like secrets. The real servers, sent the issue's requests, are
in tests/drills/test_hostile_clients.py."""

import io
import json
import logging
import logging.config

import pytest
import yaml

from devstack.layout import CONFIG as WORKERS_CONFIG
from gateway import logs
from gateway.logs import AccessLog, configure_logging
from telemetry.logsafe import SafeFormatter, escape

pytestmark = pytest.mark.fast

FORGED_PATH = "/airports/zz\n2026-12-07 00:00:00,000 INFO gateway.access [forged] \x1b[31mFORGED"
UNSAFE = ["\n", "\r", "\x00", "\x1b", "\x7f", "\x85", "\u2028", "\u2029", "\u202e", "\t"]


def test_escape_leaves_printable_text_and_writes_controls_as_escapes():
    assert escape("GET /airports/é 200") == "GET /airports/é 200"
    assert escape("a\nb\x00c\x1b[31md\u2028e") == "a\\nb\\x00c\\x1b[31md\\u2028e"
    for character in UNSAFE:
        assert escape(f"x{character}y").isprintable(), repr(character)


def test_the_plain_formatter_keeps_a_record_on_one_line_and_tracebacks_under_it():
    formatter = SafeFormatter("%(levelname)s %(name)s %(message)s")
    record = logging.LogRecord("gateway", logging.INFO, __file__, 1, "got %s", (FORGED_PATH,), None)
    line = formatter.format(record)
    assert "\n" not in line and "\x1b" not in line and line.endswith("[forged] \\x1b[31mFORGED")
    try:
        raise ValueError("bad value\n2026-12-07 00:00:00,000 INFO gateway.access [forged] \x00")
    except ValueError:
        record = logging.LogRecord("gateway", logging.ERROR, __file__, 1, "failed", (), __import__("sys").exc_info())
    first, *rest = formatter.format(record).split("\n")
    assert first == "ERROR gateway failed"
    assert rest and all(line.startswith("    ") for line in rest), rest
    assert "\x00" not in "".join(rest) and "\\x00" in rest[-1]


def log_through_configured_gateway(fmt, message, *args):
    """What configure_logging's handler writes for one record of `gateway.access`."""
    stream = io.StringIO()
    logger = logging.getLogger("gateway")
    saved = logger.handlers[:], logger.level, logger.propagate
    logger.handlers = []
    try:
        configure_logging("INFO", fmt)
        handler = logger.handlers[0]
        handler.setStream(stream)
        AccessLog()(*args) if message is None else logging.getLogger("gateway.access").info(message, *args)
        handler.flush()
    finally:
        logger.handlers, logger.propagate = saved[0], saved[2]
        logger.setLevel(saved[1])
    return stream.getvalue()


@pytest.mark.parametrize("fmt", ["plain", "json"])
@pytest.mark.parametrize("fast", [True, False], ids=["access-line", "logging"])
def test_the_gateways_lines_cannot_be_forged_and_hide_tokens(fmt, fast):
    uri = FORGED_PATH + "\x00?access_token=s3cr3t-t0ken&limit=5"
    args = ("GET", uri, 404, 1.0)
    written = log_through_configured_gateway(fmt, None if fast else "%s %s %s %.1fms", *args)
    assert written.count("\n") == 1 and written.endswith("\n"), written
    assert "s3cr3t-t0ken" not in written and "access_token=***&limit=5" in written
    for character in UNSAFE:
        assert character not in written.rstrip("\n"), repr(character)
    if fmt == "json":
        assert json.loads(written)["message"].startswith("GET /airports/zz\n2026")  # JSON escapes, reversibly
    else:
        assert "/airports/zz\\n2026-12-07 00:00:00,000 INFO gateway.access [forged] \\x1b[31mFORGED\\x00" in written


def test_the_fast_access_line_escapes_as_the_formatter_does(monkeypatch):
    monkeypatch.setattr(logs, "TRACING", False)
    plain = log_through_configured_gateway("plain", None, "GET", FORGED_PATH, 404, 1.0)
    through_logging = log_through_configured_gateway("plain", "%s %s %s %.1fms", "GET", FORGED_PATH, 404, 1.0)
    assert plain.split(" ", 2)[2] == through_logging.split(" ", 2)[2]  # but for the time


@pytest.mark.parametrize("fmt", ["plain", "json"])
def test_the_workers_lines_cannot_be_forged(fmt):
    text = WORKERS_CONFIG.read_text()
    logging_part = text[text.index("LOGGING:") :].replace("${LOG_FORMAT:plain}", fmt)
    logging_part = logging_part.replace("${LOG_LEVEL:INFO}", "INFO")
    config = yaml.safe_load(logging_part)["LOGGING"]  # as nameko's loader reads it, the variables set
    config["handlers"]["console"]["stream"] = stream = io.StringIO()
    config["root"] = {"level": "INFO", "handlers": ["console"]}
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logging.config.dictConfig(config)
        logging.getLogger("airports_service").info("created %s from %s", FORGED_PATH, "/x?token=abc&a=1")
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers, root.level = saved
    written = stream.getvalue()
    assert written.count("\n") == 1, written
    assert "\x1b" not in written and "token=***&a=1" in written and "abc" not in written
