"""Redis for a service: nameko-redis's client, behind the service's own store class."""

import nameko_redis

from workers.common.tracing import instrument_redis

REDIS_URI_KEY = "travel"  # the entry of REDIS_URIS in the config
DEFAULT_KEY_PREFIX = "travel:"


class Keyspace:
    """Key names owned by one service: `<prefix>{<service>}:<part>:<part>`.

    The braces are a Redis Cluster hash tag: every key of a service lands in one
    slot, so its multi-key scripts stay atomic (and legal) on a cluster too.
    """

    def __init__(self, prefix, service):
        self.base = f"{prefix}{{{service}}}"

    def __call__(self, *parts):
        return ":".join((self.base, *parts))


class RedisStore(nameko_redis.Redis):
    """nameko-redis, handing each worker a `store_cls(client, prefix)` instead of the bare client.

    The store is built once per container: it registers its Lua scripts with the client.
    """

    def __init__(self, store_cls, **options):
        options.setdefault("socket_connect_timeout", 2)
        options.setdefault("socket_timeout", 5)
        super().__init__(REDIS_URI_KEY, **options)
        self.store_cls = store_cls
        self.store = None

    def start(self):
        super().start()
        instrument_redis(self.client, self.container.service_name)
        prefix = self.container.config.get("REDIS_KEY_PREFIX", DEFAULT_KEY_PREFIX)
        self.store = self.store_cls(self.client, prefix, self.container.config)

    def stop(self):
        self._close()
        super().stop()

    def kill(self):
        self._close()
        super().kill()

    def _close(self):
        if self.client is not None:
            self.client.close()
        self.store = None

    def get_dependency(self, worker_ctx):
        return self.store
