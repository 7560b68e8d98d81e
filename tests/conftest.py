"""Session-wide isolation: a fresh RabbitMQ vhost and a Redis key prefix of its own,
both removed at the end, so tests never touch anything else on the same broker or Redis.

Two tiers. Tests marked `fast` (`scripts/test --fast`, or `pytest -m fast`) need Redis only: the
API tests among them run both apps over the real services inside this process
(`api`, tests/support/inprocess.py). Everything else is the integration tier, on the real broker
and `nameko run` workers (`live_api`, `workers`, `vhost`). The vhost is made only when a test
needs it, so the fast tier runs with no broker at all.

Two runs. Tests that run nameko containers inside this process (nameko.testing's
`container_factory`) need eventlet's monkey patch, which `nameko test` applies before anything is
imported; everything else (the asyncio client, uvicorn, the WSGI thread pools) must run unpatched.
So those tests live in tests/eventlet, every module marked `eventlet`, and run in a second pass,
`nameko test tests/eventlet`: the plain run leaves that folder out, the patched run collects
nothing else, and a test whose folder and marker disagree stops the run. scripts/test runs both
passes and sends each path given to its own.
"""

import contextlib
import itertools
import random
import string
import uuid
from pathlib import Path

import eventlet.patcher
import kombu
import pytest
import redis

from devstack.isolation import delete_keys
from devstack.layout import SERVICE_NAMES
from devstack.processes import wait_for_services
from gateway.settings import Settings
from tests.support import broker
from tests.support.clients import api_for, in_process_api
from tests.support.inprocess import InProcessServices
from tests.support.private import PrimaryAndReplica
from tests.support.processes import ServicesOnVhost, free_port, nameko_run, stack_on, start_gateway, worker_env
from tests.support.servers import REDIS_URI, amqp_uri
from workers.runtime.container import DOTTED_PATH as SERVICE_CONTAINER_CLS

# Which run collects what: the docstring's "Two runs".
UNDER_EVENTLET = eventlet.patcher.is_monkey_patched("socket")
HERE = Path(__file__).parent
EVENTLET_TESTS = HERE / "eventlet"
collect_ignore = (
    [p.name for p in HERE.iterdir() if p.is_dir() and p != EVENTLET_TESTS] if UNDER_EVENTLET else [EVENTLET_TESTS.name]
)


def pytest_report_header(config):
    if UNDER_EVENTLET:
        return "eventlet monkey-patched run: tests/eventlet only"
    return "tests/eventlet is left out here; it runs under `nameko test tests/eventlet` (scripts/test runs both)"


@pytest.fixture(scope="session")
def vhost():
    broker.remove_abandoned()
    name = broker.create_vhost()
    # Every session on this broker removes the travel-test vhosts nobody is connected to (what
    # killed runs leave behind). The workers connect to this one only once a test needs them, and
    # not every test on it keeps a connection open: this one marks it in use meanwhile.
    in_use = kombu.Connection(amqp_uri(name), heartbeat=0)
    in_use.connect()
    yield name
    in_use.release()
    broker.delete_vhost(name)


@pytest.fixture(scope="session")
def amqp(vhost):
    """The AMQP URI of this session's vhost."""
    return amqp_uri(vhost)


@pytest.fixture
def fresh_vhost():
    """A vhost of its own, for a test that starts services the session stack must not see."""
    name = broker.create_vhost("travel-test-own")
    yield name
    broker.delete_vhost(name)


@pytest.fixture(scope="module")
def empty_vhost():
    """A vhost where no service runs, shared by a module's tests (a vhost costs seconds to make
    and remove with rabbitmqctl): its AMQP URI."""
    name = broker.create_vhost("travel-test-own")
    yield amqp_uri(name)
    broker.delete_vhost(name)


@pytest.fixture(scope="session")
def redis_prefix():
    prefix = f"travel-test-{uuid.uuid4().hex[:8]}:"
    yield prefix
    delete_keys(REDIS_URI, prefix)


@pytest.fixture(scope="session")
def redis_uri():
    """The tests' Redis (TEST_REDIS_URI; DB 15 by default): keys go under `redis_prefix`."""
    return REDIS_URI


@pytest.fixture(scope="session")
def redis_client():
    client = redis.Redis.from_url(REDIS_URI, decode_responses=True)
    yield client
    client.close()


@pytest.fixture(scope="session")
def worker_config(amqp, redis_prefix):
    """nameko config for containers started inside the test process (nameko.testing)."""
    return {
        "AMQP_URI": amqp,
        "REDIS_URIS": {"travel": REDIS_URI},
        "REDIS_KEY_PREFIX": redis_prefix,
        "SERVICE_CONTAINER_CLS": SERVICE_CONTAINER_CLS,  # as workers/config.yml names it
    }


@pytest.fixture(scope="session")
def workers_metrics_port():
    return free_port()


@pytest.fixture(scope="session")
def stack_env(amqp, redis_prefix, workers_metrics_port):
    return worker_env(amqp, REDIS_URI, redis_prefix, TRIP_RELEASE_RETRY=1, METRICS_PORT=workers_metrics_port)


@pytest.fixture(scope="module")
def services_on_vhost():
    """probe_service, and an airports_service whose `get` takes 2 s, on a vhost of their own, for
    the RPC clients' tests (their calls: tests/support/probe.py)."""
    services = ServicesOnVhost(
        ["tests.services.probe", "tests.services.hung"],
        ["probe_service", "airports_service"],
        HANG_SECONDS=2,
        MAX_WORKERS=50,
    )
    yield services
    services.close()


@pytest.fixture
def primary_and_replica():
    """A private Redis primary and its replica (tests/support/private.py), closed after the test."""
    pair = PrimaryAndReplica().start()
    yield pair
    pair.close()


@pytest.fixture
def drill_stack(redis_prefix):
    """drill_stack(amqp=None, redis_uri=..., **options): a started devstack Stack as the drills run
    it (tests/support/processes.py, `stack_on`), on a vhost of its own unless `amqp` is given;
    closed after the test."""
    with contextlib.ExitStack() as made:
        count = itertools.count()

        def make(amqp=None, redis_uri=REDIS_URI, **options):
            if amqp is None:
                vhost = broker.create_vhost("travel-test-drill")
                made.callback(broker.delete_vhost, vhost)
                amqp = amqp_uri(vhost)
            return made.enter_context(stack_on(amqp, redis_uri, f"{redis_prefix}drill-{next(count)}:", **options))

        yield make


@pytest.fixture(scope="session")
def workers(stack_env, amqp):
    """The three services in one real `nameko run` process, for the whole session."""
    process = nameko_run(stack_env)
    try:
        wait_for_services(amqp, SERVICE_NAMES, [process])
        yield process
    finally:  # killed: a graceful stop takes seconds, and the drills test that one
        process.kill()
        process.close()


@pytest.fixture(scope="session")
def live_gateway(workers, stack_env):
    """The ASGI gateway under uvicorn on a free port, over the session's workers: its base URL."""
    process, url = start_gateway("asgi", {**stack_env, "LOG_LEVEL": "WARNING"})
    try:
        yield url
    finally:
        process.close()


@pytest.fixture(scope="session")
def services(redis_uri, redis_prefix):
    """airports_service, trips_service and greeting_service in this process, on the session's
    Redis prefix (tests/support/inprocess.py): what the fast tier's apps call."""
    hosted = InProcessServices(redis_uri, redis_prefix)
    yield hosted
    hosted.close()


@pytest.fixture(scope="session", params=["asgi", "wsgi"])
def api(request, services):
    """The API served by the ASGI app, then by the WSGI app, over the real services in this
    process (no broker): the fast tier's client."""
    client = in_process_api(request.param, services)
    yield client
    client.close()


@pytest.fixture
def make_api(services):
    """make_api(kind, **settings): an Api on a new app of that kind with these Settings, over the
    in-process services; closed after the test."""
    made = []

    def make(kind, **settings):
        made.append(in_process_api(kind, services, **settings))
        return made[-1]

    yield make
    for client in made:
        client.close()


@pytest.fixture(scope="session", params=["asgi", "wsgi"])
def live_api(request, workers, amqp):
    """The API served by the ASGI app, then by the WSGI app, over the session's real workers
    and the real broker: the integration tier's client."""
    client = api_for(request.param, Settings(amqp_uri=amqp, rpc_connections=4, rpc_proxies=4))
    yield client
    client.close()


@pytest.fixture
def make_live_api():
    """make_live_api(kind, amqp_uri, **settings): an Api on a new app of that kind with the real
    RPC client for that broker URI; closed after the test."""
    made = []

    def make(kind, amqp, **settings):
        made.append(api_for(kind, Settings(amqp_uri=amqp, **settings)))
        return made[-1]

    yield make
    for client in made:
        client.close()


@pytest.fixture
def airport(api):
    """Create an airport through the API: airport(name=..., iata=...) -> the record."""

    def create(name="Airport", **fields):
        result = api.post("/airports", json={"name": name, **fields})
        assert result.status_code == 201, result.text
        return result.json

    return create


@pytest.fixture
def trip(api, airport):
    def create(airport_from=None, airport_to=None):
        body = {"airport_from": airport_from or airport()["id"], "airport_to": airport_to or airport()["id"]}
        result = api.post("/trips", json=body)
        assert result.status_code == 201, result.text
        return result.json

    return create


@pytest.fixture(scope="session")
def unique_iata():
    """unique_iata() -> a three-letter code no other test in this session uses (codes are unique
    among airports, and the session's tests share one Redis prefix)."""
    codes = iter(
        sorted(
            ("".join(code) for code in itertools.product(string.ascii_uppercase, repeat=3)),
            key=lambda _: random.random(),
        )
    )
    return lambda: next(codes)


# The shared fixtures that reach RabbitMQ (`amqp`, `workers`, `live_api` and the rest depend on
# `vhost`): a test marked fast must use none of them. A module's own broker fixture escapes this
# check, not a run with no broker (scripts/test --fast with TEST_AMQP_URI at a closed port).
BROKER_FIXTURES = {"vhost", "fresh_vhost", "empty_vhost", "services_on_vhost", "drill_stack"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.is_relative_to(EVENTLET_TESTS) != (item.get_closest_marker("eventlet") is not None):
            raise pytest.UsageError(
                f"{item.nodeid}: a test that needs eventlet's monkey patch is in tests/eventlet and marked "
                "`eventlet`, and no other is (tests/conftest.py)"
            )
        if item.get_closest_marker("fast") is None:
            continue
        needs = BROKER_FIXTURES.intersection(item.fixturenames)
        if needs:
            raise pytest.UsageError(
                f"{item.nodeid} is marked fast but needs the broker (through {', '.join(sorted(needs))})"
            )
