"""The peer targets (bench/peers/: Flask with flask_nameko, FastAPI with nameko-devex's proxy
queue) as the harness starts them: a real stack (bench/targets.py) with just those two, on the
run's own vhost and Redis prefix, answering the baseline's routes and statuses over HTTP; and
everything it started removed afterwards."""

import uuid

import pytest
import requests

from bench.cli import cleanup
from bench.targets import KINDS, BenchTargets, Options
from tests.support.servers import AMQP_BASE, REDIS_URI

PEERS = ["flask", "fastapi"]
UNKNOWN_ID = "0" * 32  # well-formed, never issued
pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def peers(assert_nothing_left):
    """The two peers and the workers, started as `python -m bench --targets flask,fastapi` would."""
    run_id = "peers-" + uuid.uuid4().hex[:8]
    bench_targets = BenchTargets(PEERS, Options(amqp_base=AMQP_BASE, redis_uri=REDIS_URI), run_id)
    try:
        with bench_targets:
            bench_targets.keep_logs = False  # kept (and their path printed) if the start failed
            yield bench_targets
    finally:
        cleanup(run_id, REDIS_URI)  # what `python -m bench --cleanup` does, should close() have failed
    assert_nothing_left(run_id)


@pytest.fixture(params=PEERS)
def peer(request, peers):
    """(base URL, requests session) of one peer."""
    with requests.Session() as session:
        yield peers.targets[request.param].url, session


def create_airport(url, session, name):
    response = session.post(f"{url}/airports", json={"name": name}, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.mark.fast
def test_the_peers_come_between_the_baseline_and_the_reference():
    assert KINDS.index("baseline") < KINDS.index("flask") < KINDS.index("fastapi") < KINDS.index("reference")


@pytest.mark.fast
def test_the_peers_threads_and_proxies_default_to_the_wsgi_targets():
    options = Options()
    assert options.flask_threads == options.fastapi_threads == options.wsgi_threads == 16
    assert options.flask_pool_size == options.fastapi_pool_size == 0  # = threads
    assert options.flask_workers == options.fastapi_workers == 1


@pytest.mark.fast
def test_the_peers_get_only_the_settings_the_run_sets(monkeypatch):
    """A shell's FLASK_ variable would reach Flask's app.config (from_prefixed_env): it does not,
    --gateway-env's do; LOG_LEVEL becomes the server's --log-level."""
    monkeypatch.setenv("FLASK_NAMEKO_RPC_TIMEOUT", "1")
    bench_targets = BenchTargets(
        PEERS, Options(gateway_env={"LOG_LEVEL": "WARNING", "FLASK_NAMEKO_POOL_RECYCLE": "60"})
    )
    bench_targets._target = lambda name, argv, env, settings: (argv, env, settings)  # what it would start
    try:
        (flask_argv, flask_env, flask_settings), (fastapi_argv, _, fastapi_settings) = (
            bench_targets._start_flask(),
            bench_targets._start_fastapi(),
        )
    finally:
        bench_targets.keep_logs = False
        bench_targets.close()
    assert "FLASK_NAMEKO_RPC_TIMEOUT" not in flask_env and flask_env["FLASK_NAMEKO_POOL_RECYCLE"] == "60"
    assert flask_env["FLASK_NAMEKO_AMQP_URI"] == bench_targets.amqp_uri
    for argv, settings in ((flask_argv, flask_settings), (fastapi_argv, fastapi_settings)):
        assert argv[argv.index("--log-level") + 1] == "warning" and settings["LOG_LEVEL"] == "WARNING"


def test_each_peer_runs_as_configured(peers):
    flask, fastapi = (peers.describe()["targets"][name] for name in PEERS)
    assert "-k gthread --threads 16 -w 1" in flask["command"]
    assert flask["settings"]["NAMEKO_INITIAL_CONNECTIONS"] == flask["settings"]["NAMEKO_MAX_CONNECTIONS"] == "16"
    assert "--loop uvloop --http httptools" in fastapi["command"] and "--no-access-log" not in fastapi["command"]
    assert (fastapi["settings"]["threads"], fastapi["settings"]["RPC_POOL_SIZE"]) == ("16", "16")


def test_a_created_airport_is_201_and_read_back_the_same(peer):
    url, session = peer
    airport = create_airport(url, session, "Peer airport")
    assert airport["name"] == "Peer airport" and airport["id"]
    response = session.get(f"{url}/airports/{airport['id']}", timeout=10)
    assert response.status_code == 200
    assert response.json() == airport


def test_an_unknown_airport_is_404(peer):
    url, session = peer
    response = session.get(f"{url}/airports/{UNKNOWN_ID}", timeout=10)
    assert response.status_code == 404
    assert "no airport with this id" in response.json()["detail"]  # the service's own words, passed on


def test_a_trip_between_two_airports_is_201(peer):
    url, session = peer
    start, end = create_airport(url, session, "From"), create_airport(url, session, "To")
    response = session.post(f"{url}/trips", json={"airport_from": start["id"], "airport_to": end["id"]}, timeout=10)
    assert response.status_code == 201, response.text
    trip = response.json()
    assert (trip["airport_from"], trip["airport_to"]) == (start["id"], end["id"]) and trip["id"]


def test_a_trip_from_an_airport_to_itself_is_422(peer):
    # trips_service's schema refuses it: schemas.errors.ValidationError, which the baseline's table maps to 422
    url, session = peer
    airport = create_airport(url, session, "Loop")
    response = session.post(
        f"{url}/trips", json={"airport_from": airport["id"], "airport_to": airport["id"]}, timeout=10
    )
    assert response.status_code == 422, response.text


def test_a_body_without_the_fields_is_400(peer):
    url, session = peer
    assert session.post(f"{url}/airports", json={"title": "x"}, timeout=10).status_code == 400
    assert session.post(f"{url}/trips", json={"airport_from": "x"}, timeout=10).status_code == 400
