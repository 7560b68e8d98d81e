"""Renewing the pooled connections nameko publishes on (workers/runtime/publishing.py), and the
answers through nameko's responder that give up instead of pinning a worker."""

import time
from types import SimpleNamespace

import eventlet
import pytest
from kombu import Exchange
from nameko.amqp.publish import Publisher, get_producer

from workers.runtime import entrypoint, publishing
from workers.runtime.publishing import RENEW_INTERVAL, publishing_pool, renew_pooled_connections

CONFIG = {"AMQP_URI": "amqp://guest:guest@localhost:5672/"}


@pytest.mark.fast
def test_workers_that_time_out_together_renew_the_pool_once(renewals):
    assert renew_pooled_connections(CONFIG, "first") and renewals == [(10, True)]
    assert not renew_pooled_connections(CONFIG, "at the same time") and len(renewals) == 1
    publishing._Renewal.last -= RENEW_INTERVAL  # as if a second went by
    assert renew_pooled_connections(CONFIG, "a second later") and len(renewals) == 2


def test_renewing_replaces_the_connections_of_the_pool_nameko_publishes_on(amqp):
    # the real pool, on the real broker: the publish after a renewal is on a new connection
    config = {"AMQP_URI": amqp}
    publisher = Publisher(amqp)

    def connection_used():  # as nameko's Publisher.publish takes one (kombu may have added to the options)
        with get_producer(amqp, transport_options=Publisher.transport_options) as producer:
            return producer.channel.connection

    publisher.publish({"n": 1}, routing_key="nowhere")
    before = connection_used()
    assert publishing_pool(config) is publishing_pool(config)
    publishing._Renewal.last = float("-inf")
    assert renew_pooled_connections(config, "test")
    publisher.publish({"n": 2}, routing_key="nowhere")
    after = connection_used()
    assert after is not before  # py-amqp's connection object: a new one


class StuckResponder:
    """nameko's Responder on a pooled channel whose confirm never comes."""

    def __init__(self, *args, **kwargs):
        pass

    def send_response(self, result, exc_info):
        eventlet.sleep(10)


@pytest.mark.fast
def test_an_answer_whose_confirm_does_not_come_gives_up_and_renews_the_pools(renewals, monkeypatch):
    monkeypatch.setattr(entrypoint, "Responder", StuckResponder)
    monkeypatch.setattr(entrypoint, "ANSWER_TIMEOUT", 0.2)
    rpc = entrypoint.Rpc()
    rpc.container = SimpleNamespace(config={"AMQP_URI": "amqp://guest:guest@localhost:5672/"})
    rpc.method_name, rpc._exchange = "create", Exchange("nameko-rpc")
    request = SimpleNamespace(properties={"reply_to": "caller", "correlation_id": "c1"})
    started = time.monotonic()
    assert rpc._answer_through_nameko(request, "result", None, "its connection is closed") == ("result", None)
    assert time.monotonic() - started < 1.0  # the worker is free again; the redelivery answers
    assert len(renewals) == 1


@pytest.mark.fast
def test_an_outer_timeout_is_not_taken_for_the_answers_own(renewals, monkeypatch):
    monkeypatch.setattr(entrypoint, "Responder", StuckResponder)
    rpc = entrypoint.Rpc()
    rpc.container = SimpleNamespace(config={"AMQP_URI": "amqp://guest:guest@localhost:5672/"})
    rpc.method_name, rpc._exchange = "create", Exchange("nameko-rpc")
    request = SimpleNamespace(properties={"reply_to": "caller", "correlation_id": "c1"})
    with pytest.raises(eventlet.Timeout), eventlet.Timeout(0.2):
        rpc._answer_through_nameko(request, "result", None, "its connection is closed")
    assert renewals == []
