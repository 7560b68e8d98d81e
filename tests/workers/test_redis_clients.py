"""REDIS_URI's forms, the read fallback and REDIS_WAIT_REPLICAS, without a Sentinel set (the
failover itself is tests/cluster/test_redis_failover.py)."""

import traceback
from types import SimpleNamespace

import pytest
import redis

from schemas.errors import ServiceUnavailable
from tests.support.processes import free_port
from workers.airports.storage import AirportStore
from workers.common.idempotency import Attempt
from workers.common.redis_clients import RedisUriError, connect, no_retries, parse_sentinel_uri
from workers.common.storage import Reads, RedisStore, Writes
from workers.runtime.shared_gets import shared_gets

SECRET = "pa:ss@word"


def test_the_sentinel_form_names_the_sentinels_the_service_and_the_database():
    target = parse_sentinel_uri(
        "redis+sentinel://:pa%3Ass%40word@10.0.0.1:26379,10.0.0.2:26380,[::1],sentinel-3/travel/3?socket_timeout=0.5",
        socket_connect_timeout=2,
    )
    assert target.sentinels == [("10.0.0.1", 26379), ("10.0.0.2", 26380), ("::1", 26379), ("sentinel-3", 26379)]
    assert target.service_name == "travel"
    assert target.options["db"] == 3 and target.options["password"] == SECRET
    assert target.options["socket_timeout"] == 0.5 and target.options["socket_connect_timeout"] == 2
    # The sentinels get the socket options (capped: a slow sentinel is skipped), not the servers' password.
    assert target.sentinel_options["socket_timeout"] == 0.5 and target.sentinel_options["socket_connect_timeout"] == 1
    assert "password" not in target.sentinel_options
    assert "host" not in target.options and "port" not in target.options


def test_the_tls_sentinel_form_takes_rediss_query_options_for_servers_and_sentinels():
    target = parse_sentinel_uri(
        "rediss+sentinel://h:1/travel/0?ssl_ca_certs=/ca.pem&ssl_cert_reqs=required&sentinel_password=s"
    )
    for options in (target.options, target.sentinel_options):
        assert options["ssl"] is True and options["ssl_ca_certs"] == "/ca.pem"
    assert "connection_class" not in target.options  # the sentinel pool picks its own TLS class
    assert target.sentinel_options["password"] == "s" and "password" not in target.options


@pytest.mark.parametrize(
    "uri",
    [
        f"redis+sentinel://:{SECRET}@h:26379",  # no service
        f"redis+sentinel://:{SECRET}@h:26379/travel/zero",
        f"redis+sentinel://:{SECRET}@h:port/travel/0",
        f"redis+sentinel://:{SECRET}@h:1/travel/0/extra",
        f"redis+sentinel://:{SECRET}@h:1/travel/0?socket_timeout=soon",
        f"http://:{SECRET}@h:1/0",
        f"redis://:{SECRET}@h:1/0?socket_timeout=soon",
    ],
)
def test_an_unusable_uri_is_refused_without_quoting_it(uri):
    with pytest.raises(RedisUriError) as caught:
        connect(uri)
    assert "word" not in "".join(traceback.format_exception(caught.value))


def test_a_provider_with_a_bad_uri_fails_to_start_without_the_uri_in_its_error():
    provider = RedisStore(AirportStore)
    provider.container = SimpleNamespace(config={"REDIS_URIS": {"travel": f"redis+sentinel://:{SECRET}@h:1"}})
    provider.setup()
    with pytest.raises(RedisUriError) as caught:
        provider.start()
    assert "word" not in "".join(traceback.format_exception(caught.value))  # what nameko would log


def test_the_plain_forms_keep_working_and_have_no_replica(redis_uri):
    clients = connect(redis_uri, decode_responses=True)
    try:
        assert clients.primary.ping() and clients.replica is None
    finally:
        clients.close()


def unreachable():
    return redis.Redis(port=free_port(), socket_connect_timeout=0.5, retry=no_retries())


def test_reads_go_to_the_replica_only_while_the_primary_is_unreachable(redis_client, prefix):
    key = f"{prefix}read"
    redis_client.set(key, "from the replica")
    assert Reads(unreachable(), redis_client)(lambda r: r.get(key)) == "from the replica"
    assert Reads(redis_client, unreachable())(lambda r: r.get(key)) == "from the replica"  # no replica asked
    with pytest.raises(redis.ConnectionError):
        Reads(unreachable())(lambda r: r.get(key))  # no replica to fall back to: the outage shows


def test_reads_from_the_replica_are_counted_for_the_failover_alert(redis_client, prefix):
    from prometheus_client import REGISTRY

    import workers.common.metrics  # noqa: F401  (registers the counter)

    def counted():
        return REGISTRY.get_sample_value("nameko_worker_redis_replica_reads_total")

    key = f"{prefix}counted"
    before = counted()
    Reads(redis_client, unreachable())(lambda r: r.get(key))  # the primary answers: nothing counted
    assert counted() == before
    Reads(unreachable(), redis_client)(lambda r: r.get(key))
    assert counted() == before + 1


def test_a_get_reads_where_every_read_does(redis_client, prefix):
    key = f"{prefix}get"
    redis_client.set(key, "from the replica")
    assert Reads(unreachable(), redis_client).get(key) == "from the replica"
    assert Reads(redis_client).get(f"{prefix}no-such-key") is None
    # Outside a green process (here: OS threads) a GET goes straight to the client, alone: the
    # round trips GETs share are the workers' (tests/eventlet/test_shared_gets.py).
    assert shared_gets(redis_client) is redis_client


class ClosedOnce:
    """A replica whose first read dies with the connection (as when a sentinel reconfigures it)."""

    def __init__(self, times=1):
        self.failures_left = times

    def get(self, key):
        if self.failures_left:
            self.failures_left -= 1
            raise redis.ConnectionError("Connection closed by server.")
        return "read again"


def test_a_replica_read_cut_by_a_reconfiguration_is_tried_once_more():
    assert Reads(unreachable(), ClosedOnce())(lambda r: r.get("k")) == "read again"
    with pytest.raises(redis.ConnectionError):  # but only once: the time a call takes stays bounded
        Reads(unreachable(), ClosedOnce(times=2))(lambda r: r.get("k"))


def test_waiting_for_a_replica_that_never_confirms_is_a_503_after_the_timeout(redis_client, prefix):
    # The test Redis has no replicas: WAIT 1 times out with 0 acknowledgements.
    store = AirportStore(redis_client, prefix, {"REDIS_WAIT_REPLICAS": 1, "REDIS_WAIT_TIMEOUT_MS": 50})
    record = {"id": "a" * 32, "name": "Lisbon", "iata": None, "created_at": "2026-01-01T00:00:00Z"}
    attempt = Attempt(store.idempotency.keys("idempotency", "w"), "token", "fp", 60)
    with pytest.raises(ServiceUnavailable, match="0 of the 1 replica"):
        store.create(record, attempt)
    assert store.get(record["id"]) == record  # on the primary, but not known to be anywhere else


def test_without_wait_a_write_is_not_held_back(redis_client, prefix):
    store = AirportStore(redis_client, prefix, {"REDIS_WAIT_REPLICAS": 0})
    record = {"id": "b" * 32, "name": "Porto", "iata": None, "created_at": "2026-01-01T00:00:00Z"}
    attempt = Attempt(store.idempotency.keys("idempotency", "n"), "token", "fp", 60)
    assert store.create(record, attempt) == ("created", None)


def test_wait_needs_a_bounded_timeout(redis_client):
    with pytest.raises(ValueError, match="REDIS_WAIT_TIMEOUT_MS"):
        Writes(redis_client, {"REDIS_WAIT_REPLICAS": 1, "REDIS_WAIT_TIMEOUT_MS": 0})
