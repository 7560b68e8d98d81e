"""The gateway's log lines. Its handler: on an event loop's thread, the lines of one loop turn go
out in one write at its end, in order; elsewhere each line at once; nothing stays behind a flush.
The access line built in one step is the line logging would have written."""

import asyncio
import logging
import time

import pytest

from gateway import logs
from gateway.logs import FORMAT, AccessLog, LoopBatchingHandler, PasswordFilter, RequestIdFilter
from telemetry.logsafe import SafeFormatter

pytestmark = pytest.mark.fast


class Stream:
    """Records each write, as the file descriptor would see them."""

    def __init__(self):
        self.writes = []

    def write(self, text):
        self.writes.append(text)

    def flush(self):
        pass


@pytest.fixture
def logged():
    stream = Stream()
    handler = LoopBatchingHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("tests.log_batching")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, handler, stream
    logger.removeHandler(handler)


def test_a_loop_turns_lines_go_out_in_one_write_at_its_end(logged):
    logger, _, stream = logged

    async def serve():
        logger.info("first")
        logger.info("second")
        assert stream.writes == []  # not yet: the turn is not over
        await asyncio.sleep(0)
        assert stream.writes == ["first\nsecond\n"]
        logger.info("third")
        await asyncio.sleep(0)

    asyncio.run(serve())
    assert stream.writes == ["first\nsecond\n", "third\n"]


def test_lines_off_a_loop_go_out_at_once(logged):
    logger, _, stream = logged
    logger.info("start-up")
    assert stream.writes == ["start-up\n"]


def test_a_flush_writes_what_waits(logged):
    logger, handler, stream = logged

    async def log_and_stop():
        logger.info("last words")  # the loop ends before its next turn

    asyncio.run(log_and_stop())
    handler.flush()  # as logging.shutdown() does at exit
    assert "".join(stream.writes) == "last words\n"


@pytest.fixture
def gateway_handler():
    """The `gateway` logger with a handler as configure_logging makes it, on a Stream."""
    stream = Stream()
    handler = LoopBatchingHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(PasswordFilter())
    handler.setFormatter(SafeFormatter(FORMAT))
    handler._plain = True
    logger = logging.getLogger("gateway")
    saved = logger.handlers, logger.level, logger.propagate
    logger.handlers, logger.propagate = [handler], False
    logger.setLevel(logging.INFO)
    yield handler, stream
    logger.handlers, logger.propagate = saved[0], saved[2]
    logger.setLevel(saved[1])


@pytest.mark.parametrize("at", [1_764_590_001.0071, 1_764_590_059.9996])
def test_the_access_line_is_the_one_logging_writes(gateway_handler, monkeypatch, at):
    handler, stream = gateway_handler
    logging.getLogger("gateway").handlers = [handler]  # pytest's capture handlers join each phase's
    monkeypatch.setattr(time, "time", lambda: at)
    monkeypatch.setattr(time, "time_ns", lambda: int(at * 1e9))
    token = logs.request_id_var.set("req-42")
    try:
        uri = "/airports?next=amqp://guest:hunter2@broker/x"  # a password in a query is masked too
        AccessLog()("GET", uri, 200, 1.25)
        access = logging.getLogger("gateway.access")
        assert logs._fast_handler(logging.getLogger("gateway"), access) is handler  # the line above took the fast path
        logging.getLogger("gateway.access").info("%s %s %s %.1fms", "GET", uri, 200, 1.25)
    finally:
        logs.request_id_var.reset(token)
    fast, logged = stream.writes
    assert fast == logged
    assert "hunter2" not in fast and "[req-42] GET /airports?next=amqp://guest:***@broker/x 200 1.2ms" in fast


def test_with_another_handler_the_access_line_goes_through_logging(gateway_handler):
    handler, stream = gateway_handler
    handler._plain = False  # JSON, say
    assert logs._fast_handler(logging.getLogger("gateway"), logging.getLogger("gateway.access")) is None
    AccessLog()("GET", "/x", 204, 0.5)
    assert stream.writes and stream.writes[0].rstrip().endswith("GET /x 204 0.5ms")


def test_a_handler_on_the_access_logger_itself_gets_the_line_too(gateway_handler):
    handler, stream = gateway_handler
    logging.getLogger("gateway").handlers = [handler]  # pytest's capture handlers join each phase's
    own = Stream()
    extra = logging.StreamHandler(own)
    access = logging.getLogger("gateway.access")
    access.addHandler(extra)
    try:
        AccessLog()("GET", "/y", 200, 0.7)
    finally:
        access.removeHandler(extra)
    assert own.writes and own.writes[0].rstrip().endswith("GET /y 200 0.7ms")
    assert stream.writes and stream.writes[0].rstrip().endswith("GET /y 200 0.7ms")
