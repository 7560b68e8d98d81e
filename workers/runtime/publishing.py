"""The connections nameko's publishers take from kombu's pool, and renewing them.

nameko publishes (a proxy's requests, its responder's replies) on a producer from `kombu.pools`:
a pooled connection and its default channel, kept for the life of the process. A channel that
published to a quorum queue before the queue's leader died can go on sending to the dead leader
for about 10 s (it looks like the channel's queue client waiting for a timer to look for the
new leader): the broker drops what it sends meanwhile and never confirms it, so each publish
waits for a confirm that does not come (measured on the 3-node drill: trips_service's holds
stuck in `basic_publish_confirm`, each retry taking the same pooled channel again, until
AIRPORTS_RPC_TIMEOUT). A new connection's channel looks the current leader up when it first
publishes to the queue.

So a publish that failed or got no answer in time renews the pool of the connections nameko
publishes on: kombu's `resize(..., reset=True)` closes every connection in it (one in use fails
under its publisher, whose retry then takes a new one: hold and release are idempotent, a reply
sent twice is ignored) and refills it with new ones, connected when first used. Not
`kombu.pools.reset()`: that closes the pools themselves, and a publisher already waiting on one
then fails with "Acquire on closed pool" in a greenthread whose error kills the service container
(seen on the drill). The pool is the one nameko's `get_producer` uses: its key is the AMQP
settings and `Publisher.transport_options`, a dict shared by every Publisher into which kombu
writes each publish's retry policy; the workers' publishes all use nameko's default one, so the
key stays the same (a process mixing retry policies, as the test suite does, moves it).
"""

import logging
import time

import kombu.pools
from kombu import Connection
from nameko.amqp.publish import Publisher
from nameko.constants import AMQP_SSL_CONFIG_KEY, AMQP_URI_CONFIG_KEY, LOGIN_METHOD_CONFIG_KEY

log = logging.getLogger(__name__)

RENEW_INTERVAL = 1.0  # seconds: the workers that time out together renew the pool once


class _Renewal:
    last = float("-inf")


def publishing_pool(config):
    """kombu's pool of the connections nameko publishes on, for a service's `config`."""
    key = Connection(
        config[AMQP_URI_CONFIG_KEY],
        transport_options=Publisher.transport_options,
        ssl=config.get(AMQP_SSL_CONFIG_KEY),
        login_method=config.get(LOGIN_METHOD_CONFIG_KEY),
    )
    return kombu.pools.connections[key]


def renew_pooled_connections(config, reason):
    """Replace the pooled connections (at most once per RENEW_INTERVAL); True if it did."""
    now = time.monotonic()
    if now - _Renewal.last < RENEW_INTERVAL:
        return False
    _Renewal.last = now
    log.info("renewing the pooled broker connections: %s", reason)
    try:
        pool = publishing_pool(config)
        pool.resize(pool.limit, reset=True)
    except Exception as exc:  # never worse than not renewing: the next attempt may still get through
        log.warning("could not renew the pooled broker connections: %r", exc)
        return False
    return True
