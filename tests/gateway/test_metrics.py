"""Prometheus metrics: the gateway's (/metrics) and the workers' (their own port)."""

import re
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.processes import start_gateway


@pytest.fixture
def api(live_api):
    """Over the real broker and workers: the pool and connection gauges, and the workers' own
    counters, are about them (`airport` creates through this one too)."""
    return live_api


def samples(text):
    """{(name, frozenset(labels)): value} of a Prometheus exposition."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(metrics, name, **labels):
    return metrics.get((name, frozenset(labels.items())), 0.0)


def test_the_gateway_counts_requests_and_rpc_calls(api, airport):
    record = airport()
    before = samples(api.get("/metrics").text)
    for _ in range(3):
        assert api.get(f"/airports/{record['id']}").status_code == 200
    api.get("/airports/" + "f" * 32)
    after = samples(api.get("/metrics").text)
    route = "/airports/{airport_id}"
    http = "gateway_http_requests_total"
    assert (
        value(after, http, route=route, method="GET", status="200")
        - value(before, http, route=route, method="GET", status="200")
        == 3
    )
    assert (
        value(after, http, route=route, method="GET", status="404")
        - value(before, http, route=route, method="GET", status="404")
        == 1
    )
    rpc = "gateway_rpc_calls_total"
    assert (
        value(after, rpc, call="airports_service.get", outcome="ok")
        - value(before, rpc, call="airports_service.get", outcome="ok")
        == 3
    )
    assert (
        value(after, rpc, call="airports_service.get", outcome="NotFound")
        - value(before, rpc, call="airports_service.get", outcome="NotFound")
        == 1
    )
    assert value(after, "gateway_rpc_call_duration_seconds_count", call="airports_service.get") > 0
    assert value(after, "gateway_http_request_duration_seconds_count", route=route, method="GET") > 0
    assert value(after, "gateway_rpc_calls_in_flight") == 0


def test_unmatched_paths_do_not_become_labels(api):
    api.get("/no/such/place/zqxj-unmatched")  # letters no sample value or timestamp contains
    text = api.get("/metrics").text
    assert "zqxj" not in text
    assert 'route="unmatched"' in text


def test_pool_and_connection_gauges(api):
    text = api.get("/metrics").text
    if api.kind == "asgi":
        assert value(samples(text), "gateway_broker_connections") >= 1
    else:
        assert re.search(r'gateway_rpc_pool_proxies\{state="idle"\} [1-9]', text), text


def test_the_workers_export_their_own_metrics_and_health(api, airport, workers_metrics_port):
    airport()
    base = f"http://127.0.0.1:{workers_metrics_port}"
    text = urllib.request.urlopen(f"{base}/metrics", timeout=5).read().decode()
    assert (
        value(samples(text), "nameko_worker_calls_total", service="airports_service", method="create", outcome="ok")
        >= 1
    )
    assert "nameko_worker_call_duration_seconds_bucket" in text
    for probe in ("/health/live", "/health/ready"):
        with urllib.request.urlopen(base + probe, timeout=5) as response:
            assert response.status == 200


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_metrics_add_up_across_server_processes(kind, stack_env, workers, tmp_path):
    env = {**stack_env, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "LOG_LEVEL": "WARNING"}
    process, url = start_gateway(kind, env, processes=2)
    try:
        for _ in range(20):
            urllib.request.urlopen(f"{url}/health/live", timeout=5).close()
        text = urllib.request.urlopen(f"{url}/metrics", timeout=5).read().decode()
    finally:
        process.stop()
    live = value(samples(text), "gateway_http_requests_total", route="/health/live", method="GET", status="200")
    assert live >= 20  # the one probe from wait_for_http may add one, whichever process took it
