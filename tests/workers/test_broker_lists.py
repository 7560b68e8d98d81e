"""AMQP_URI naming several brokers (`uri1;uri2`, kombu's failover syntax): every client takes the
list and fails over to a live broker, and no log line shows a password of any URI of it, nameko's
and kombu's own included (they mask only the first). Side by side: a second worker instance on the
same host serves its metrics on the next port of METRICS_PORT's range."""

import asyncio
import logging
import ssl
import subprocess
import sys
import time
import urllib.request

import pytest

from devstack.processes import wait_for_services
from gateway.logs import PasswordFilter as GatewayPasswordFilter  # the same class, as the gateway configures it
from gateway.rpc.asyncio_client import AsyncRpcClient
from gateway.rpc.calls import Caller, RpcCall
from gateway.rpc.proxy_pool import ProxyPool
from gateway.settings import Settings, masked
from tests.support.processes import free_port, nameko_run, worker_env
from tests.support.servers import REDIS_URI, amqp_uri
from workers.common import metrics
from workers.common.logs import PasswordFilter, mask_passwords

DEAD = "amqp://guest:dead-pw@127.0.0.1:1/"
LIST = "amqp://u1:pw-one@n1:5672/travel;amqp://u2:pw-two@n2:5672/travel; amqps://u3:pw-three@n3:5671/travel"
CALLER = Caller("req-lists", "testOperation")


def test_the_settings_take_a_list_and_mask_every_password():
    settings = Settings.from_env({"AMQP_URI": LIST})
    assert [u.split("@")[1] for u in settings.amqp_uris] == ["n1:5672/travel", "n2:5672/travel", "n3:5671/travel"]
    assert masked(LIST) == ("amqp://u1:***@n1:5672/travel;amqp://u2:***@n2:5672/travel;amqps://u3:***@n3:5671/travel")
    summary = settings.describe()
    assert summary.startswith("brokers ") and "pw-" not in summary
    assert settings.amqp_tls and settings.connections == 3
    with pytest.raises(ValueError, match="does not start with amqp"):
        Settings.from_env({"AMQP_URI": "amqp://a:b@h/;redis://x:y@h/"})


def test_the_asgi_client_applies_tls_to_each_amqps_uri_and_spreads_its_links():
    client = AsyncRpcClient(LIST, connections=4, ssl_context=ssl.create_default_context())
    assert [(n.host, n.port, n.ssl is not None) for n in client.nodes] == [
        ("n1", 5672, False),
        ("n2", 5672, False),
        ("n3", 5671, True),
    ]
    assert [link.node for link in client.links] == [0, 1, 2, 0]


def test_links_lost_together_spread_over_the_nodes_left():
    client = AsyncRpcClient(LIST.replace("amqps", "amqp"), connections=3)
    first, second, third = client.links  # on nodes 0, 1, 2
    assert first._next_node() == 1  # node 0 lost: nodes 1 and 2 carry a link each, the next one
    first.node = 1
    second.node = second._next_node()  # node 1 lost, with both links on it: node 0 has none
    assert second.node == 0
    assert first._next_node() == 2  # and then nodes 0 and 2 have one each: the next after 1
    single = AsyncRpcClient(DEAD).links[0]
    assert single._next_node() == 0


@pytest.mark.parametrize("filter_class", [PasswordFilter, GatewayPasswordFilter])
def test_the_log_filters_mask_every_uri_of_a_list(filter_class):
    record = logging.LogRecord(
        "kombu", logging.WARNING, __file__, 1, "Error connecting to broker at %s (%s)", (LIST, "x"), None
    )
    try:
        raise ConnectionError(f"cannot reach {LIST}")
    except ConnectionError:
        record.exc_info = sys.exc_info()
    assert filter_class().filter(record)
    text = logging.Formatter().format(record)
    assert "pw-" not in text and text.count(":***@") == 6, text
    assert mask_passwords("amqp://guest:**@h:1//") == "amqp://guest:**@h:1//"  # kombu's own mask stays


def test_nameko_and_kombu_lines_about_a_list_show_no_password(redis_prefix):
    """Workers on two brokers that do not answer: nameko logs the whole list on every retry."""
    env = worker_env(
        "amqp://guest:s3cret-one@127.0.0.1:1/;amqp://guest:s3cret-two@127.0.0.1:2/",
        "redis://127.0.0.1:1/0",
        redis_prefix,
    )
    process = nameko_run(env, modules=["workers.greeting"], name="no-broker")
    try:
        deadline = time.monotonic() + 20
        while "Error connecting to broker" not in process.output() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        process.kill()
    output = process.output()
    assert "Error connecting to broker" in output, output[-2000:]
    assert "s3cret" not in output, [line for line in output.splitlines() if "s3cret" in line][:3]


def test_the_health_check_and_the_wsgi_pool_fail_over_to_a_live_broker(workers, amqp):
    uri = f"{DEAD};{amqp}"
    check = subprocess.run(
        [sys.executable, "-m", "workers.healthcheck", "greeting_service", "airports_service"],
        env={**worker_env(uri, "unused", "unused:")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stderr
    pool = ProxyPool({"AMQP_URI": uri}, size=2)
    try:
        assert pool.connected  # the watchdog probes every node: one answers
        assert pool.call(RpcCall("greeting_service", "hello", {"name": "list"}), CALLER) == "Hello, list!"
    finally:
        pool.close()


async def test_the_asgi_client_connects_past_a_dead_broker(workers, amqp):
    client = AsyncRpcClient(f"{DEAD};{amqp}", connections=2)
    await client.start()
    try:
        assert await client.wait_connected(10)
        for _ in range(50):  # link 0 starts on the dead node and moves on to the live one
            if all(link.usable for link in client.links):
                break
            await asyncio.sleep(0.1)
        assert all(link.usable for link in client.links)
        assert await client.call(RpcCall("greeting_service", "hello", {"name": "x"}), CALLER) == "Hello, x!"
    finally:
        await client.close()


def test_metrics_ports_parse():
    assert metrics.parse_ports("9100-9102") == [9100, 9101, 9102]
    assert metrics.parse_ports(9100) == [9100] and metrics.parse_ports("0") == [] and metrics.parse_ports("") == []
    with pytest.raises(ValueError, match="METRICS_PORT"):
        metrics.parse_ports("9102-9100")


def test_no_free_metrics_port_is_a_clear_warning_not_an_error(monkeypatch, caplog):
    monkeypatch.setattr(metrics._Server, "started_port", None)
    monkeypatch.setattr(metrics._Server, "running", set())
    import socket

    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with caplog.at_level(logging.INFO, logger=metrics.__name__):
            metrics._Server.ensure([port], "some_service")
    assert metrics._Server.started_port is None
    [record] = [r for r in caplog.records if r.name == metrics.__name__]
    assert record.levelno == logging.WARNING and "METRICS_PORT" in record.getMessage()


def test_a_second_worker_instance_on_the_same_host_serves_on_the_next_port(fresh_vhost, redis_prefix):
    first_port = free_port()
    env = worker_env(amqp_uri(fresh_vhost), REDIS_URI, redis_prefix, METRICS_PORT=f"{first_port}-{first_port + 5}")
    instances = [nameko_run(env, modules=["workers.greeting"], name=f"side-by-side-{n}") for n in range(2)]
    try:
        wait_for_services(amqp_uri(fresh_vhost), ["greeting_service"], instances[:1])
        deadline = time.monotonic() + 30
        while not all("metrics and health on" in p.output() for p in instances):
            assert time.monotonic() < deadline, [p.output()[-1500:] for p in instances]
            time.sleep(0.2)
        outputs = [p.output() for p in instances]
        assert not any("ERROR" in o for o in outputs), outputs
        ports = sorted(int(o.split("metrics and health on :")[1].split()[0]) for o in outputs)
        assert ports[0] == first_port and ports[1] > first_port
        for port in ports:
            assert urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=5).status == 200
    finally:
        for process in instances:
            process.kill()
