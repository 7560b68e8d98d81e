"""The workers' reply encoding (workers/runtime/replies.py): nameko's reply format, encoded once, and
framed as py-amqp frames it."""

from types import SimpleNamespace

import orjson
import pytest
from amqp import Message, spec
from amqp.method_framing import frame_writer
from amqp.serialization import dumps
from nameko.exceptions import deserialize

from schemas.errors import NotFound
from workers.runtime.replies import ack_frame, reply_body, reply_frames

pytestmark = pytest.mark.fast


def test_a_result_is_nameko_shaped():
    assert orjson.loads(reply_body({"a": [1, "x"]}, None)) == {"result": {"a": [1, "x"]}, "error": None}


def test_an_error_comes_back_as_its_type():
    exc = NotFound("gone", ["f" * 32])
    error = orjson.loads(reply_body(None, (NotFound, exc, None)))["error"]
    rebuilt = deserialize(error)
    assert (
        isinstance(rebuilt, NotFound) and rebuilt.ids == ["f" * 32] and error["exc_path"] == "schemas.errors.NotFound"
    )


def test_an_unserialisable_result_is_reported_not_raised():
    error = orjson.loads(reply_body({1, 2}, None))["error"]
    assert error["exc_type"] == "UnserializableValueError"


class _Sink:
    def __init__(self):
        self.written = []

    def write(self, data):
        self.written.append(bytes(data))


@pytest.mark.parametrize("body_size", [0, 10, 4096 - 8 - 200, 4096, 3 * 4096 + 5])
@pytest.mark.parametrize("correlation_id", ["5c0a6f2e-1a2b-4c3d-9e8f-0123456789ab", None, "é" * 100])
def test_reply_frames_are_the_bytes_py_amqp_writes(body_size, correlation_id):
    """The hand-built reply (reply_frames) against py-amqp's own frame writer for the Message
    nameko's responder would publish: small, one frame short of the limit, and split bodies."""
    connection = SimpleNamespace(frame_max=4096, bytes_sent=0)
    sink = _Sink()
    body = bytes(range(256)) * (body_size // 256) + b"x" * (body_size % 256)
    properties = {"content_type": "application/json", "content_encoding": "utf-8", "delivery_mode": 1}
    if correlation_id is not None:
        properties["correlation_id"] = correlation_id
    frame_writer(connection, sink)(
        1,
        7,
        spec.Basic.Publish,
        dumps("Bssbb", (0, "nameko-rpc", "rpc.reply-standalone_rpc_proxy-1f2e", False, False)),
        Message(body, **properties),
    )
    ours = reply_frames(7, 4096, "nameko-rpc", "rpc.reply-standalone_rpc_proxy-1f2e", correlation_id, body)
    assert ours == b"".join(sink.written)


@pytest.mark.parametrize(("channel_id", "delivery_tag"), [(1, 1), (7, 300), (65535, 2**64 - 1)])
def test_the_ack_frame_is_the_bytes_py_amqp_writes(channel_id, delivery_tag):
    """The hand-built basic.ack (ack_frame) against py-amqp's frame writer, as kombu's
    message.ack() has it write one (a single delivery, not `multiple`)."""
    sink = _Sink()
    frame_writer(SimpleNamespace(frame_max=4096, bytes_sent=0), sink)(
        1, channel_id, spec.Basic.Ack, dumps("Lb", (delivery_tag, False)), None
    )
    assert ack_frame(channel_id, delivery_tag) == b"".join(sink.written)
