"""Where the tests' RabbitMQ and Redis are: TEST_AMQP_URI (a broker URI without a vhost) and
TEST_REDIS_URI (DB 15 by default). Every session works on a vhost and a key prefix of its own."""

import os

from devstack.isolation import vhost_uri

AMQP_BASE = os.environ.get("TEST_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672")
REDIS_URI = os.environ.get("TEST_REDIS_URI", "redis://127.0.0.1:6379/15")


def amqp_uri(vhost):
    """The AMQP URI of `vhost` on the tests' broker."""
    return vhost_uri(AMQP_BASE, vhost)
