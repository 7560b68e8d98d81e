"""redis-py clients from a REDIS_URI: a single server, or a Sentinel-monitored primary and replicas.

    redis://[[user]:password@]host:port/db[?option=value...]        redis-py's own forms
    rediss://...?ssl_ca_certs=/ca.pem                                (TLS)
    redis+sentinel://[[user]:password@]host:port[,host:port...]/<service_name>/<db>[?option=value...]
    rediss+sentinel://...                                           (TLS to the servers and the sentinels)

The sentinel form lists the sentinels (default port 26379); the password is the servers'
(`sentinel_password=` in the query is the sentinels' own, when they ask for one). Query options
are redis-py's, as in its `redis://` form (`ssl_ca_certs`, `ssl_cert_reqs`, `socket_timeout`, ...).

The clients are plain `redis.Redis` objects (so that instrumentation of redis-py sees them):
`primary` for every write and read, and, with Sentinel, `replica`, for reads while the primary is
unreachable. redis-py retries nothing here: a command that fails raises at once and the worker
answers 503, which the caller may retry; a retry inside the worker could run a write twice. After
a command timed out, each of these clients fails at once for a moment (fail_fast.py).

No URI, and so no password, is ever put in a log line or an exception message.
"""

import urllib.parse
from dataclasses import dataclass, field

import redis
from redis.backoff import NoBackoff
from redis.connection import parse_url
from redis.retry import Retry
from redis.sentinel import Sentinel

from workers.common.fail_fast import FailFast

SENTINEL_SCHEMES = {"redis+sentinel": False, "rediss+sentinel": True}  # scheme: TLS
DEFAULT_SENTINEL_PORT = 26379
# A sentinel answers from memory: one that takes longer than this is as good as down, and the
# next one on the list is asked (redis-py asks them in turn for every new connection).
SENTINEL_TIMEOUT = 1.0


class RedisUriError(ValueError):
    """A REDIS_URI that cannot be used. The message never quotes the URI (it may hold a password)."""


@dataclass
class SentinelTarget:
    """What a redis+sentinel URI names: the sentinels, the service they monitor, and the options
    of the connections to the servers (`options`) and to the sentinels (`sentinel_options`)."""

    sentinels: list  # [(host, port)]
    service_name: str
    options: dict = field(default_factory=dict)
    sentinel_options: dict = field(default_factory=dict)


@dataclass
class RedisClients:
    primary: redis.Redis
    replica: redis.Redis | None = None  # reads only, Sentinel only: a replica, else the primary
    sentinel: Sentinel | None = None

    def close(self):
        for client in (self.primary, self.replica, *(self.sentinel.sentinels if self.sentinel else ())):
            if client is not None:
                client.close()


def no_retries():
    return Retry(NoBackoff(), 0)


def connect(uri, **options):
    """RedisClients for `uri`; `options` (socket timeouts, decode_responses...) apply to every
    connection, the URI's own query options winning as in redis-py."""
    scheme = urllib.parse.urlsplit(uri).scheme if "://" in uri else ""
    if scheme in SENTINEL_SCHEMES:
        target = parse_sentinel_uri(uri, **options)
        sentinel = Sentinel(target.sentinels, sentinel_kwargs=target.sentinel_options, **target.options)
        primary, replica = FailFast(), FailFast()
        return RedisClients(
            primary=primary.watch(sentinel.master_for(target.service_name, retry=primary)),
            replica=replica.watch(sentinel.slave_for(target.service_name, retry=replica)),
            sentinel=sentinel,
        )
    if scheme not in ("redis", "rediss", "unix"):
        raise RedisUriError(
            f"REDIS_URI must start with redis://, rediss://, unix://, redis+sentinel:// or rediss+sentinel://"
            f" (found {scheme + '://' if scheme else 'no scheme'})"
        )
    try:
        breaker = FailFast()
        client = redis.Redis.from_url(uri, retry=breaker, redis_connect_func=breaker.on_connect, **options)
        return RedisClients(primary=breaker.watch(client))
    except ValueError:
        raise RedisUriError("REDIS_URI is not a valid Redis URI") from None


def parse_sentinel_uri(uri, **options):
    """A SentinelTarget for a redis+sentinel:// or rediss+sentinel:// URI."""
    parts = urllib.parse.urlsplit(uri)
    tls = SENTINEL_SCHEMES[parts.scheme]
    userinfo, _, hosts = parts.netloc.rpartition("@")
    username, _, password = userinfo.partition(":") if userinfo else ("", "", "")
    sentinels = [_host_port(item) for item in hosts.split(",")]
    path = [urllib.parse.unquote(p) for p in parts.path.split("/") if p]
    if not path or len(path) > 2:
        raise RedisUriError("a redis+sentinel URI names the service after the sentinels: /<service_name>/<db>")
    service_name, db = path[0], path[1] if len(path) == 2 else "0"
    if not db.isdigit():
        raise RedisUriError("the database of a redis+sentinel URI is a number: /<service_name>/<db>")

    # redis-py's own parser, for the query options and their types, on a URI with no host or secret.
    query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
    sentinel_password = query.pop("sentinel_password", [None])[-1]
    try:
        parsed = parse_url(f"{'rediss' if tls else 'redis'}://localhost/{db}?{urllib.parse.urlencode(query, True)}")
    except ValueError:
        raise RedisUriError("a query option of REDIS_URI has an invalid value") from None
    for key in ("host", "port", "connection_class"):  # the sentinels decide where; `ssl` picks the class
        parsed.pop(key, None)
    parsed = {**options, **parsed}
    if username:
        parsed["username"] = urllib.parse.unquote(username)
    if password:
        parsed["password"] = urllib.parse.unquote(password)
    parsed["retry"] = no_retries()

    sentinel_options = {
        key: value for key, value in parsed.items() if key.startswith(("socket_", "ssl")) or key == "retry"
    }
    sentinel_options["socket_timeout"] = min(parsed.get("socket_timeout") or SENTINEL_TIMEOUT, SENTINEL_TIMEOUT)
    sentinel_options["socket_connect_timeout"] = min(
        parsed.get("socket_connect_timeout") or SENTINEL_TIMEOUT, SENTINEL_TIMEOUT
    )
    if sentinel_password:
        sentinel_options["password"] = sentinel_password
    if tls:
        parsed["ssl"] = True  # SentinelConnectionPool's switch to its TLS connection class
        sentinel_options["ssl"] = True
    return SentinelTarget(sentinels, service_name, parsed, sentinel_options)


def _host_port(text):
    """("host", port) of `host:port`, `host` or `[v6]:port`."""
    host, port = text, ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
    elif ":" in text:
        host, _, port = text.rpartition(":")
    if not host or (port and not port.isdigit()):
        raise RedisUriError("the sentinels of a redis+sentinel URI are host:port pairs separated by commas")
    return host, int(port) if port else DEFAULT_SENTINEL_PORT
