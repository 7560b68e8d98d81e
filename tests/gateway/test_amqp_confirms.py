"""gateway/rpc/amqp.py's publisher confirms: acks settle publishes (one, or every one up to a tag),
nacks are reported by correlation id, on the channel they came on."""

import pytest
from pamqp import commands
from pamqp import frame as pamqp_frame

from gateway.rpc.amqp import AmqpConnection, AmqpParams

pytestmark = pytest.mark.fast


def connection(refused):
    made = AmqpConnection(AmqpParams.from_uri("amqp://u:p@localhost/"), None, None, None, refused.append)
    made._unconfirmed = {1: {1: "a", 2: "b", 3: "c", 4: "d"}, 2: {1: "x"}}
    return made


def feed(made, method, channel=1):
    made._frame(1, pamqp_frame.marshal(method, channel), 0, len(pamqp_frame.marshal(method, channel)) - 1)


def test_acks_settle_and_nacks_report_by_correlation_id():
    refused = []
    made = connection(refused)
    feed(made, commands.Basic.Ack(delivery_tag=2, multiple=True))  # 1 and 2
    assert made._unconfirmed[1] == {3: "c", 4: "d"} and refused == []
    feed(made, commands.Basic.Nack(delivery_tag=4, multiple=False, requeue=False))
    assert made._unconfirmed[1] == {3: "c"} and refused == ["d"]
    feed(made, commands.Basic.Nack(delivery_tag=1, multiple=True), channel=2)  # another channel's tag 1
    assert refused == ["d", "x"] and made._unconfirmed == {1: {3: "c"}, 2: {}}
    feed(made, commands.Basic.Ack(delivery_tag=9, multiple=False))  # unknown: ignored
    assert made._unconfirmed[1] == {3: "c"}
