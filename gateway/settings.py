"""The gateway's settings, read from the environment (see the README's configuration table)."""

import os
import ssl
import urllib.parse
from dataclasses import dataclass, field, fields

from telemetry.metrics import parse_ports


def setting(variable, default, secret=False):
    """A setting read from the environment variable `variable`; its type is its default's.
    Secrets stay out of repr (and so out of logs)."""
    return field(default=default, repr=not secret, metadata={"variable": variable})


@dataclass(frozen=True)
class Settings:
    # one broker, or several separated by ";" (kombu's failover syntax): the nodes of a cluster
    amqp_uri: str = setting("AMQP_URI", "amqp://guest:guest@localhost:5672/", secret=True)
    rpc_exchange: str = setting("RPC_EXCHANGE", "nameko-rpc")
    rpc_timeout: float = setting("RPC_TIMEOUT", 10.0)  # seconds to wait for a service's reply
    rpc_connections: int = setting("RPC_CONNECTIONS", 0)  # ASGI: AMQP connections (0: 2, or one per node)
    rpc_proxies: int = setting("RPC_PROXIES", 0)  # WSGI: AMQP links in the pool (0: one per server thread)
    rpc_max_in_flight: int = setting("RPC_MAX_IN_FLIGHT", 1024)  # ASGI: calls waiting before new ones get 503
    rpc_confirms: int = setting("RPC_CONFIRMS", 1)  # ASGI: publisher confirms (1), for a full queue's fast 503
    rpc_startup_wait: float = setting("RPC_STARTUP_WAIT", 5.0)  # ASGI: seconds start-up waits for the broker
    rpc_checkout_timeout: float = setting("RPC_CHECKOUT_TIMEOUT", 1.0)  # WSGI: seconds to wait for a free proxy
    rpc_proxy_max_age: float = setting("RPC_PROXY_MAX_AGE", 0.0)  # WSGI: recycle proxies older than this (0: never)
    max_body_bytes: int = setting("MAX_BODY_BYTES", 65536)
    log_level: str = setting("LOG_LEVEL", "INFO")
    log_format: str = setting("LOG_FORMAT", "plain")  # or json
    api_tokens: str = setting("API_TOKENS", "", secret=True)  # comma-separated bearer tokens; empty: no auth
    cors_origins: str = setting("CORS_ORIGINS", "")  # comma-separated allowed origins, or *; empty: off
    amqp_ssl_ca: str = setting("AMQP_SSL_CA", "")  # amqps://: CA bundle to verify the broker (default: system's)
    amqp_ssl_cert: str = setting("AMQP_SSL_CERT", "")  # amqps://: client certificate, for brokers that ask
    amqp_ssl_key: str = setting("AMQP_SSL_KEY", "")
    shutdown_grace: float = setting("SHUTDOWN_GRACE", 0.0)  # seconds served after SIGTERM, readiness failing
    server_threads: int = setting("THREADS", 16)  # WSGI: the server's threads per process (gunicorn.conf.py)
    # The edge (gateway/protocol.py): what a request may be and how long it may take to arrive
    max_url_bytes: int = setting("MAX_URL_BYTES", 8192)  # the request target; longer: 414
    max_header_fields: int = setting("MAX_HEADER_FIELDS", 100)  # more: 431
    max_header_field_bytes: int = setting("MAX_HEADER_FIELD_BYTES", 8192)  # one field, name and value; larger: 431
    max_header_section_bytes: int = setting("MAX_HEADER_SECTION_BYTES", 65536)  # all of them; larger: 431
    request_read_timeout: float = setting("REQUEST_READ_TIMEOUT", 10.0)  # seconds to send a whole request
    metrics_port: str = setting("METRICS_PORT", "0")  # /metrics on a port (or FIRST-LAST) of its own; 0: the API's
    host: str = setting("HOST", "127.0.0.1")  # where the server listens (its command line says so too)
    rate_limit: str = setting("RATE_LIMIT", "")  # Q/W: Q requests per W seconds per client and process; empty: off

    @classmethod
    def variable(cls, name):
        """The environment variable of the setting `name`."""
        return cls.__dataclass_fields__[name].metadata["variable"]

    @classmethod
    def from_env(cls, environ=None):
        """Settings from environment variables; a ValueError naming the variable if one is malformed."""
        environ = os.environ if environ is None else environ
        for old, new in RENAMED.items():  # an old name still counts where the new one is not set
            if old in environ:
                environ = {**{name: environ[old] for name in new}, **environ}
        values = {}
        for spec in fields(cls):
            name = spec.metadata["variable"]
            if not spec.repr and f"{name}_FILE" in environ:  # a secret, mounted as a file (Kubernetes)
                values[spec.name] = read_secret_file(environ[f"{name}_FILE"], name)
            elif name in environ:
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
        for name in (
            "rpc_timeout",
            "rpc_max_in_flight",
            "rpc_checkout_timeout",
            "max_body_bytes",
            "server_threads",
            *EDGE,
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{self.variable(name)} must be positive")
        if self.rpc_confirms not in (0, 1):
            raise ValueError("RPC_CONFIRMS must be 0 or 1")
        for name in ("rpc_connections", "rpc_proxies", "shutdown_grace"):
            if getattr(self, name) < 0:
                raise ValueError(f"{self.variable(name)} must not be negative")
        self.rate_limit_policy  # noqa: B018 (a ValueError if malformed)
        parse_ports(self.metrics_port)
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
    def connections(self):
        """RPC_CONNECTIONS, or two links, or one per node when there are more, so that they spread over the nodes."""
        return self.rpc_connections or max(2, len(self.amqp_uris))

    @property
    def proxies(self):
        """RPC_PROXIES, or a proxy per server thread, so no request waits for one."""
        return self.rpc_proxies or self.server_threads

    @property
    def rate_limit_policy(self):
        """RATE_LIMIT as (quota, window in seconds), or None when off."""
        if not self.rate_limit.strip():
            return None
        quota, slash, window = self.rate_limit.partition("/")
        try:
            policy = int(quota), float(window)
        except ValueError:
            policy = None
        if not slash or policy is None or policy[0] < 1 or policy[1] <= 0:
            raise ValueError(f"RATE_LIMIT={self.rate_limit!r} is not Q/W (Q requests in W seconds, e.g. 100/60)")
        return policy

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
        """The same, as nameko's AMQP_SSL config (py-amqp's ssl options), for the WSGI pool."""
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
            f"connections {self.rpc_connections or 'auto'}, proxies {self.rpc_proxies or 'auto'}, "
            f"auth {'on' if self.tokens else 'off'}, "
            f"CORS {self.cors_origins or 'off'}, rate limit {self.rate_limit or 'off'}"
        )


EDGE = (
    "max_url_bytes",
    "max_header_fields",
    "max_header_field_bytes",
    "max_header_section_bytes",
    "request_read_timeout",
)

# Variables renamed: the old name sets each new one the environment does not set itself.
RENAMED = {"RPC_POOL_SIZE": ("RPC_CONNECTIONS", "RPC_PROXIES")}  # it counted either, by gateway kind


def read_secret_file(path, name):
    """A secret's value from the file `path` (its `<name>_FILE` variable), without the final newline."""
    try:
        with open(path, encoding="utf-8") as file:
            return file.read().rstrip("\r\n")
    except OSError as exc:
        raise ValueError(f"{name}_FILE={path!r}: cannot read it ({exc.strerror})") from None


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
