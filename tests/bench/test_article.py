"""The `article` target (bench/article_gateway.py, the article's gateway rebuilt route for route) as the harness
starts it: a real stack (bench/targets.py) with just that target, answering the article's routes
over HTTP with nameko's defaults; the routes the harness sends it (bench/routes.py); and everything
it started removed afterwards."""

import re
import uuid
from pathlib import Path

import pytest
import requests
import yaml

from bench.cli import cleanup
from bench.routes import NO_SUCH_ID, PROJECT, routes_of
from bench.scenarios import SCENARIOS, serves
from bench.seed import Seed
from bench.targets import KINDS, BenchTargets, Options
from devstack.http import Outcome
from tests.support.servers import AMQP_BASE, REDIS_URI

pytestmark = pytest.mark.timeout(180)
AIRPORT, OTHER = "a" * 32, "b" * 32
ID = re.compile(r"[0-9a-f]{32}")
SEED = Seed([AIRPORT, OTHER])


@pytest.fixture(scope="module")
def article(assert_nothing_left):
    """(stack, base URL) of the article's gateway and the workers, as `python -m bench --targets
    article` starts them."""
    run_id = "article-" + uuid.uuid4().hex[:8]
    stack = BenchTargets(["article"], Options(amqp_base=AMQP_BASE, redis_uri=REDIS_URI), run_id)
    try:
        with stack:
            stack.keep_logs = False  # kept (and their path printed) if the start failed
            yield stack, stack.targets["article"].url
    finally:
        cleanup(run_id, REDIS_URI)  # what `python -m bench --cleanup` does, should close() have failed
    assert_nothing_left(run_id)


def requests_of(scenario, target):
    return [(r.method, r.path, r.body) for r in SCENARIOS[scenario].build(SEED, routes_of(target))]


@pytest.mark.fast
def test_the_article_gets_its_own_routes_in_every_scenario_it_serves():
    assert requests_of("get_airport", "article") == [
        ("GET", f"/airport/{AIRPORT}", None),
        ("GET", f"/airport/{OTHER}", None),
    ]
    assert requests_of("create_airport", "article")[0] == ("POST", "/airport", b'{"airport":"Bench airport 0"}')
    assert requests_of("create_trip", "article")[0] == (
        "POST",
        "/trip",
        f'{{"airport_from":"{AIRPORT}","airport_to":"{OTHER}"}}'.encode(),
    )
    # every other target, the project's
    assert requests_of("get_airport", "baseline")[0] == ("GET", f"/airports/{AIRPORT}", None)
    assert requests_of("create_airport", "flask")[0] == ("POST", "/airports", b'{"name":"Bench airport 0"}')
    assert routes_of("my-gateway") is PROJECT  # a --url name that is no kind
    assert KINDS.index("baseline") < KINDS.index("article") < KINDS.index("flask")
    assert not serves("article", "list_airports") and serves("article", "create_trip")


@pytest.mark.fast
def test_the_article_routes_read_its_answers():
    routes = routes_of("article")
    assert routes.created_id(Outcome("POST", "/airport", 200, 0.01, AIRPORT.encode())) == AIRPORT
    assert routes.created_id(Outcome("POST", "/airport", 500, 0.01, b"Error: KeyError: 'airport'\n")) is None
    # ready: the workers' NotFound came back through nameko's 500, not an unknown service
    assert routes.ready(Outcome("GET", "/airport/x", 500, 0.01, b"Error: RemoteError: NotFound No airport\n"))
    assert not routes.ready(Outcome("GET", "/airport/x", 500, 0.01, b"Error: UnknownService: airports_service\n"))
    assert not routes.ready(Outcome("GET", "/airport/x", 404, 0.01, b"Not Found"))


@pytest.mark.fast
def test_the_article_runs_with_nameko_defaults_unless_a_level_is_given():
    stack = BenchTargets(["article"], Options(), "article-config")
    stack._target = lambda name, argv, env, settings: (argv, settings)  # what it would start
    try:
        argv, settings = stack._start_article()
        config = yaml.safe_load(Path(argv[argv.index("--config") + 1]).read_text())
        assert set(config) == {"AMQP_URI", "WEB_SERVER_ADDRESS"}  # no max_workers, no LOGGING
        assert argv[-1] == "bench.article_gateway" and settings["LOG_LEVEL"].startswith("INFO")
        stack.options.gateway_env["LOG_LEVEL"] = "warning"
        argv, settings = stack._start_article()
        config = yaml.safe_load(Path(argv[argv.index("--config") + 1]).read_text())
        assert config["LOGGING"]["root"]["level"] == "WARNING" and settings["LOG_LEVEL"] == "warning"
    finally:
        stack.keep_logs = False
        stack.close()


def test_an_airport_posted_is_its_id_as_text_and_read_back_as_the_record(article):
    _, url = article
    created = requests.post(f"{url}/airport", data='{"airport": "first_airport"}', timeout=10)
    assert created.status_code == 200 and ID.fullmatch(created.text), created.text
    fetched = requests.get(f"{url}/airport/{created.text}", timeout=10)
    assert fetched.status_code == 200
    assert fetched.json()["airport"]["id"] == created.text
    assert fetched.json()["airport"]["name"] == "first_airport"  # the workers' record, json.dumps'd whole


def test_a_trip_posted_is_its_id_and_read_back(article):
    _, url = article
    ends = [requests.post(f"{url}/airport", data=f'{{"airport": "{n}"}}', timeout=10).text for n in ("A", "B")]
    body = f'{{"airport_from": "{ends[0]}", "airport_to": "{ends[1]}"}}'
    created = requests.post(f"{url}/trip", data=body, timeout=10)
    assert created.status_code == 200 and ID.fullmatch(created.text), created.text
    trip = requests.get(f"{url}/trip/{created.text}", timeout=10).json()["trip"]
    assert (trip["airport_from"], trip["airport_to"]) == tuple(ends)


def test_a_workers_error_is_nameko_s_500_and_every_request_is_logged(article):
    stack, url = article
    response = requests.get(f"{url}/airport/{NO_SUCH_ID}", timeout=10)
    assert response.status_code == 500 and "NotFound" in response.text  # no error mapping
    # nameko run's default logging: eventlet's access line per request, at INFO
    log = stack.targets["article"].process.output()
    assert f'"GET /airport/{NO_SUCH_ID} HTTP/1.1" 500' in log
    described = stack.describe()["targets"]["article"]
    assert described["settings"]["max_workers"].startswith("10") and "bench.article_gateway" in described["command"]
