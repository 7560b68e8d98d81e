"""The gateway's settings, read from the environment (see the README's configuration table)."""

import os
import ssl
import urllib.parse
from dataclasses import dataclass, field, fields


@dataclass(frozen=True)
class Settings:
    # one broker, or several separated by ";" (kombu's failover syntax): the nodes of a cluster
    amqp_uri: str = field(default="amqp://guest:guest@localhost:5672/", repr=False)
    rpc_exchange: str = "nameko-rpc"
    rpc_timeout: float = 10.0  # seconds to wait for a service's reply
    rpc_pool_size: int = 0  # ASGI: AMQP connections (0: 2); WSGI: proxies (0: one per server thread)
    rpc_max_in_flight: int = 1024  # ASGI: calls waiting for a reply before new ones get 503
    rpc_startup_wait: float = 5.0  # ASGI: seconds start-up waits for the broker before serving anyway
    rpc_checkout_timeout: float = 1.0  # WSGI: seconds to wait for a free proxy before 503
    rpc_proxy_max_age: float = 0.0  # WSGI: recycle proxies older than this (seconds; 0: never)
    max_body_bytes: int = 65536
    log_level: str = "INFO"
    log_format: str = "plain"  # or json
    api_tokens: str = field(default="", repr=False)  # comma-separated bearer tokens; empty: no auth
    cors_origins: str = ""  # comma-separated allowed origins, or *; empty: no CORS headers
    amqp_ssl_ca: str = ""  # amqps://: CA bundle to verify the broker (default: the system's)
    amqp_ssl_cert: str = ""  # amqps://: client certificate, for brokers that ask for one
    amqp_ssl_key: str = ""
    server_threads: int = 16  # WSGI: the server's threads per process (gunicorn.conf.py, scripts/run)

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
        "log_format": "LOG_FORMAT",
        "api_tokens": "API_TOKENS",
        "cors_origins": "CORS_ORIGINS",
        "amqp_ssl_ca": "AMQP_SSL_CA",
        "amqp_ssl_cert": "AMQP_SSL_CERT",
        "amqp_ssl_key": "AMQP_SSL_KEY",
        "server_threads": "THREADS",
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
        if self.log_format not in ("plain", "json"):
            raise ValueError("LOG_FORMAT must be plain or json")
        for name in ("rpc_timeout", "rpc_max_in_flight", "rpc_checkout_timeout", "max_body_bytes", "server_threads"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{self.ENVIRONMENT[name]} must be positive")
        if self.rpc_pool_size < 0:
            raise ValueError("RPC_POOL_SIZE must not be negative")
        uris = self.amqp_uris
        if not uris:
            raise ValueError("AMQP_URI names no broker")
        for uri in uris:
            if not uri.startswith(("amqp://", "amqps://")):
                raise ValueError(f"AMQP_URI: {masked(uri)!r} does not start with amqp:// or amqps://")

    @property
    def amqp_uris(self):
        """The brokers AMQP_URI names, in order (one, or the nodes of a cluster)."""
        return split_uris(self.amqp_uri)

    @property
    def asgi_connections(self):
        """Auto: two links, or one per node when there are more, so that they spread over the nodes."""
        return self.rpc_pool_size or max(2, len(self.amqp_uris))

    @property
    def wsgi_proxies(self):
        """A proxy per server thread, so no request waits for one."""
        return self.rpc_pool_size or self.server_threads

    @property
    def tokens(self):
        return [token.strip() for token in self.api_tokens.split(",") if token.strip()]

    @property
    def origins(self):
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    @property
    def amqp_tls(self):
        """Whether any broker is reached over TLS (the TLS options then apply to each amqps:// URI)."""
        return any(uri.startswith("amqps://") for uri in self.amqp_uris)

    def ssl_context(self):
        """The TLS context for amqps:// (None for amqp://)."""
        if not self.amqp_tls:
            return None
        context = ssl.create_default_context(cafile=self.amqp_ssl_ca or None)
        if self.amqp_ssl_cert:
            context.load_cert_chain(self.amqp_ssl_cert, self.amqp_ssl_key or None)
        return context

    def nameko_ssl(self):
        """The same, as nameko's AMQP_SSL config (kombu's ssl options), for the WSGI pool."""
        if not self.amqp_tls:
            return None
        options = {"cert_reqs": ssl.CERT_REQUIRED}
        for key, value in (
            ("ca_certs", self.amqp_ssl_ca),
            ("certfile", self.amqp_ssl_cert),
            ("keyfile", self.amqp_ssl_key),
        ):
            if value:
                options[key] = value
        return options

    def describe(self):
        """A one-line summary for the start-up log: the broker addresses without their passwords."""
        brokers = "brokers" if len(self.amqp_uris) > 1 else "broker"
        return (
            f"{brokers} {masked(self.amqp_uri)}, RPC timeout {self.rpc_timeout:g}s, "
            f"pool {self.rpc_pool_size or 'auto'}, auth {'on' if self.tokens else 'off'}, "
            f"CORS {self.cors_origins or 'off'}"
        )


def split_uris(value):
    """`uri1;uri2;...` as a list (kombu's failover syntax; blanks around the `;` ignored)."""
    return [uri.strip() for uri in value.split(";") if uri.strip()]


def masked(uri):
    """`uri` with its password replaced by ***; each of them, for a `;`-separated list."""
    if ";" in uri:
        return ";".join(masked(one) for one in split_uris(uri))
    parts = urllib.parse.urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))
