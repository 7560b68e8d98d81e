"""The gateway's settings, read from the environment (see the README's configuration table)."""
import os
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Settings:
    amqp_uri: str = "amqp://guest:guest@localhost:5672/"
    rpc_exchange: str = "nameko-rpc"
    rpc_timeout: float = 10.0  # seconds to wait for a service's reply
    rpc_pool_size: int = 2  # ASGI: AMQP connections; WSGI: ClusterRpcProxy instances
    rpc_max_in_flight: int = 1024  # ASGI: calls waiting for a reply before new ones get 503
    rpc_startup_wait: float = 5.0  # ASGI: seconds start-up waits for the broker before serving anyway
    rpc_checkout_timeout: float = 1.0  # WSGI: seconds to wait for a free proxy before 503
    rpc_proxy_max_age: float = 0.0  # WSGI: recycle proxies older than this (seconds; 0: never)
    max_body_bytes: int = 65536
    log_level: str = "INFO"

    ENVIRONMENT = {
        "amqp_uri": "AMQP_URI",
        "rpc_exchange": "RPC_EXCHANGE",
        "rpc_timeout": "RPC_TIMEOUT",
        "rpc_pool_size": "RPC_POOL_SIZE",
        "rpc_max_in_flight": "RPC_MAX_IN_FLIGHT",
        "rpc_startup_wait": "RPC_STARTUP_WAIT",
        "rpc_checkout_timeout": "RPC_CHECKOUT_TIMEOUT",
        "rpc_proxy_max_age": "RPC_PROXY_MAX_AGE",
        "max_body_bytes": "MAX_BODY_BYTES",
        "log_level": "LOG_LEVEL",
    }

    @classmethod
    def from_env(cls, environ=None):
        """Settings from environment variables; a ValueError naming the variable if one is malformed."""
        environ = os.environ if environ is None else environ
        values = {}
        for spec in fields(cls):
            name = cls.ENVIRONMENT[spec.name]
            if name in environ:
                try:
                    values[spec.name] = type(spec.default)(environ[name])
                except ValueError:
                    raise ValueError(f"{name}={environ[name]!r} is not a valid {type(spec.default).__name__}") from None
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self):
        for name in ("rpc_timeout", "rpc_pool_size", "rpc_max_in_flight", "rpc_checkout_timeout", "max_body_bytes"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{self.ENVIRONMENT[name]} must be positive")
