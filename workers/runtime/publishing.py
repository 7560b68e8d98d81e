"""The connections nameko's publishers take from kombu's pool, and renewing them.

nameko publishes (a proxy's requests, its responder's replies) on a pooled kombu connection kept
for the life of the process; after a quorum queue's leader dies, such a channel can go on
sending to the dead leader, and its publishes wait for confirms that never come. So a publish
that failed or got no answer in time renews the pool nameko's `get_producer` uses, with kombu's
`resize(..., reset=True)`: new connections look the current leader up.

What was measured, why not `kombu.pools.reset()`, and how the pool is found: docs/design.md,
"Renewed publishing connections".
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
