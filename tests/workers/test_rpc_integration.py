"""The workers as users run them: one `nameko run` process, called over the real broker with
nameko's own ClusterRpcProxy (what `nameko shell` and the WSGI gateway use)."""

import json
import re
import subprocess
import time

import pytest
from nameko.exceptions import BadRequest, MethodNotFound, RemoteError
from nameko.standalone.rpc import ClusterRpcProxy

from devstack.processes import wait_for_services
from schemas.errors import (
    Conflict,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    NotFound,
    ServiceUnavailable,
    TravelError,
    ValidationError,
)
from tests.support.processes import BIN, ROOT, nameko_run, worker_env
from tests.support.servers import REDIS_URI, amqp_uri


@pytest.fixture
def rpc(workers, amqp):
    with ClusterRpcProxy({"AMQP_URI": amqp}, timeout=10) as proxy:
        yield proxy


def test_greeting_as_in_the_article(rpc):
    assert rpc.greeting_service.hello(name="world") == "Hello, world!"


def test_nameko_shell_runs_the_articles_call(workers, stack_env):
    shell = subprocess.run(
        [str(BIN / "nameko"), "shell", "--config", str(ROOT / "workers" / "config.yml")],
        input="print(n.rpc.greeting_service.hello(name='world'))\n",
        capture_output=True,
        text=True,
        env=stack_env,
        cwd=ROOT,
        timeout=60,
    )
    assert "Hello, world!" in shell.stdout, shell.stderr


def test_airports_and_trips_round_trip(rpc, unique_iata):
    lisbon = rpc.airports_service.create(name="Lisbon", iata=unique_iata())
    porto = rpc.airports_service.create("Porto")
    assert rpc.airports_service.get(lisbon["id"]) == lisbon
    trip = rpc.trips_service.create(lisbon["id"], porto["id"])
    assert rpc.trips_service.get(trip["id"]) == trip
    assert trip in rpc.trips_service.list(airport=porto["id"])["items"]
    with pytest.raises(Conflict):
        rpc.airports_service.delete(lisbon["id"])
    rpc.trips_service.delete(trip["id"])
    rpc.airports_service.delete(lisbon["id"])
    with pytest.raises(NotFound):
        rpc.airports_service.get(lisbon["id"])


def test_typed_errors_cross_the_wire_with_their_details(rpc):
    with pytest.raises(ValidationError) as invalid:
        rpc.airports_service.create(name="", iata="abc")
    assert set(invalid.value.errors) == {"name", "iata"}
    with pytest.raises(NotFound) as missing:
        rpc.trips_service.get("0" * 32)
    assert missing.value.ids == ["0" * 32]
    with pytest.raises(ValidationError) as no_airport:
        rpc.trips_service.create("1" * 32, "2" * 32)
    assert set(no_airport.value.errors) == {"airport_from", "airport_to"}


def test_a_fault_in_a_worker_is_not_a_client_error(rpc, redis_client, redis_prefix):
    # A corrupt record makes the worker fail: the caller gets nameko's RemoteError, never one of
    # the typed errors a gateway would answer with a 4xx.
    airport_id = "c0ffee" + "0" * 26
    redis_client.set(f"{redis_prefix}{{airports}}:record:{airport_id}", "{not json")
    with pytest.raises(RemoteError) as error:
        rpc.airports_service.get(airport_id)
    assert not isinstance(error.value, TravelError)
    # Calls the service cannot take are nameko's BadRequest errors, not ours either.
    with pytest.raises(BadRequest):
        rpc.airports_service.create(name="x", colour="red")
    with pytest.raises(MethodNotFound):
        rpc.airports_service.no_such_method()


def test_idempotent_create_over_rpc(rpc):
    first = rpc.airports_service.create(name="Faro", idempotency_key="faro-1")
    assert rpc.airports_service.create(name="Faro", idempotency_key="faro-1") == first
    with pytest.raises(IdempotencyKeyReused):
        rpc.airports_service.create(name="Other", idempotency_key="faro-1")


def test_concurrent_duplicates_create_one_record(rpc):
    replies = [rpc.airports_service.create.call_async(name="Dup", idempotency_key="dup-1") for _ in range(8)]
    outcomes = []
    for reply in replies:
        try:
            outcomes.append(reply.result()["id"])
        except IdempotencyKeyInUse:
            outcomes.append("in use")
    created = {o for o in outcomes if o != "in use"}
    assert len(created) == 1


def test_a_released_hold_lets_the_airport_go(rpc):
    a, b = (rpc.airports_service.create(name=n)["id"] for n in ("A", "B"))
    trip = rpc.trips_service.create(a, b)
    assert rpc.airports_service.holders(a) == [trip["id"]]
    rpc.trips_service.delete(trip["id"])
    assert rpc.airports_service.holders(a) == []
    rpc.airports_service.delete(a)


def miss_and_wait_for_the_log(amqp, process, request_id, marker):
    """Make airports_service log a (NotFound) warning for a call with `request_id`; wait until
    `marker` shows in the process's output."""
    with ClusterRpcProxy({"AMQP_URI": amqp}, context_data={"request_id": request_id}, timeout=10) as rpc:
        with pytest.raises(NotFound):
            rpc.airports_service.get("9" * 32)
    deadline = time.monotonic() + 5
    while marker not in process.output() and time.monotonic() < deadline:
        time.sleep(0.1)


def test_the_request_id_reaches_the_worker_log(workers, amqp):
    miss_and_wait_for_the_log(amqp, workers, "req-7f3a", "[req-7f3a]")
    line = next(line for line in workers.output().splitlines() if "[req-7f3a]" in line)
    assert "airports_service.get" in line


def test_a_redis_outage_is_service_unavailable_and_no_secret_is_logged(fresh_vhost, redis_prefix):
    amqp = amqp_uri(fresh_vhost)  # away from the session's healthy airports_service
    env = worker_env(amqp, "redis://:s3cr3t-pw@127.0.0.1:1/0", redis_prefix)
    process = nameko_run(env, modules=["workers.airports"], name="no-redis")
    try:
        deadline = time.monotonic() + 30
        with ClusterRpcProxy({"AMQP_URI": amqp}, timeout=10) as rpc:
            while True:
                try:
                    rpc.airports_service.health()
                except ServiceUnavailable:
                    break
                except Exception:
                    assert time.monotonic() < deadline, process.output()
                    time.sleep(0.2)
            with pytest.raises(ServiceUnavailable):
                rpc.airports_service.create(name="x")
    finally:
        process.stop()
    output = process.output()
    assert "s3cr3t-pw" not in output
    assert re.search(r"amqp://guest:\*\*@", output)


def test_json_logs_carry_the_request_id(fresh_vhost, redis_prefix):
    amqp = amqp_uri(fresh_vhost)
    process = nameko_run(
        worker_env(amqp, REDIS_URI, redis_prefix, LOG_FORMAT="json"), modules=["workers.airports"], name="json-logs"
    )
    try:
        wait_for_services(amqp, ["airports_service"], [process])
        miss_and_wait_for_the_log(amqp, process, "json-7", '"json-7"')
    finally:
        process.stop()
    lines = [json.loads(line) for line in process.output().splitlines() if line.startswith("{")]
    assert lines and all({"time", "level", "logger", "request_id", "message"} <= set(line) for line in lines)
    assert any(line["request_id"] == "json-7" and "airports_service.get" in line["message"] for line in lines)
