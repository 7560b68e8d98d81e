"""The REST contract end to end over the real broker and `nameko run` workers, once per app (the
integration tier's smoke): the fast tier runs the whole contract on the services in-process;
this keeps the real path covered: the clients' wire protocol, nameko's (de)serialisation of typed
errors and of RemoteError, trips_service calling airports_service over AMQP, and readiness
against the broker."""

import re
import uuid


def test_records_are_created_read_listed_and_deleted(live_api, assert_problem, unique_iata):
    api = live_api
    created = api.post("/airports", json={"name": "Lisbon", "iata": unique_iata()})
    assert created.status_code == 201, created.text
    lisbon = created.json
    assert created.headers["location"] == f"/airports/{lisbon['id']}"
    fetched = api.get(created.headers["location"])
    assert fetched.json == lisbon and re.fullmatch(r'"[0-9a-f]{32}"', fetched.headers["etag"])
    unchanged = api.get(created.headers["location"], headers={"If-None-Match": fetched.headers["etag"]})
    assert unchanged.status_code == 304
    porto = api.post("/airports", json={"name": "Porto"}).json

    trip = api.post("/trips", json={"airport_from": lisbon["id"], "airport_to": porto["id"]})
    assert trip.status_code == 201, trip.text
    assert api.get(trip.headers["location"]).json == trip.json
    listed = api.get("/trips", params={"airport": porto["id"]}).json
    assert listed == {"items": [trip.json], "next_cursor": None}

    # airports_service refuses while trips_service's hold (taken over AMQP) stands
    assert assert_problem(api.delete(f"/airports/{lisbon['id']}"), 409)["type"].endswith(":conflict")
    assert api.delete(trip.headers["location"]).status_code == 204
    assert api.delete(f"/airports/{lisbon['id']}").status_code == 204
    assert_problem(api.get(f"/airports/{lisbon['id']}"), 404)


def test_records_change_and_are_found_over_the_wire(live_api, assert_problem, unique_iata):
    """PATCH with If-Match (412 crossing the wire typed), a trip's holds moving between airports over
    AMQP, the lookup by code and an airport's trips, on the real workers."""
    api = live_api
    merge_patch = {"content-type": "application/merge-patch+json"}
    created = api.post("/airports", json={"name": "Lisbon", "iata": unique_iata()})
    lisbon, etag = created.json, created.headers["etag"]
    renamed = api.request(
        "PATCH", created.headers["location"], json={"name": "Lisboa"}, headers={**merge_patch, "If-Match": etag}
    )
    assert renamed.status_code == 200 and renamed.json["name"] == "Lisboa"
    stale = api.request(
        "PATCH", created.headers["location"], json={"name": "X"}, headers={**merge_patch, "If-Match": etag}
    )
    assert_problem(stale, 412)
    assert api.get("/airports", params={"iata": lisbon["iata"].lower()}).json["items"] == [renamed.json]

    porto, faro = api.post("/airports", json={"name": "Porto"}).json, api.post("/airports", json={"name": "Faro"}).json
    trip = api.post("/trips", json={"airport_from": lisbon["id"], "airport_to": porto["id"]}).json
    moved = api.request("PATCH", f"/trips/{trip['id']}", json={"airport_to": faro["id"]}, headers=merge_patch)
    assert moved.status_code == 200, moved.text
    assert api.get(f"/airports/{faro['id']}/trips").json["items"] == [moved.json]
    assert_problem(api.get("/airports/" + "0" * 32 + "/trips"), 404)
    assert api.delete(f"/airports/{porto['id']}").status_code == 204  # released over AMQP
    assert assert_problem(api.delete(f"/airports/{faro['id']}"), 409)["conflicts_with"] == {"trips": [trip["id"]]}
    assert api.delete(f"/trips/{trip['id']}").status_code == 204
    assert api.delete(f"/airports/{faro['id']}").status_code == 204


def test_typed_errors_cross_the_wire_as_themselves(live_api, assert_problem, unique_iata):
    api = live_api
    taken = api.post("/airports", json={"name": "First", "iata": unique_iata()}).json
    assert_problem(api.post("/airports", json={"name": "Second", "iata": taken["iata"]}), 409)
    # NotFound from airports_service to trips_service, ValidationError from it to the gateway
    problem = assert_problem(api.post("/trips", json={"airport_from": taken["id"], "airport_to": "0" * 32}), 422)
    assert problem["errors"] == {"airport_to": ["No airport with this id."]}

    key = uuid.uuid4().hex
    first = api.post("/airports", json={"name": "Once"}, headers={"Idempotency-Key": key})
    again = api.post("/airports", json={"name": "Once"}, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201 and first.json == again.json
    reused = assert_problem(api.post("/airports", json={"name": "Twice"}, headers={"Idempotency-Key": key}), 422)
    assert reused["type"].endswith(":idempotency-key-reused")


def test_a_failing_service_is_502_without_internals(live_api, assert_problem, redis_client, redis_prefix):
    broken = "c0" * 16
    redis_client.set(f"{redis_prefix}{{airports}}:record:{broken}", "{not json")
    problem = assert_problem(live_api.get(f"/airports/{broken}"), 502)  # nameko's RemoteError, as sent
    assert (
        problem["detail"]
        == "A service failed to handle the request; retry later, and report the request_id if it goes on."
    )
    assert "JSONDecode" not in str(problem)


def test_readiness_checks_the_broker_and_every_service(live_api):
    result = live_api.get("/health/ready")
    assert result.status_code == 200, result.text
    assert result.json["status"] == "ok"
    assert set(result.json["checks"]) == {"broker", "airports_service", "trips_service", "greeting_service"}
    assert all(check["ok"] for check in result.json["checks"].values())


def test_the_articles_walkthrough(live_api):
    form = {"content-type": "application/x-www-form-urlencoded"}  # what `curl -d` sends
    first = live_api.post("/airport", body=b'{"airport": "first_airport"}', headers=form).text
    second = live_api.post("/airport", body=b'{"airport": "second_airport"}', headers=form).text
    body = f'{{"airport_from": "{first}", "airport_to": "{second}"}}'.encode()
    trip = live_api.post("/trip", body=body, headers=form)
    assert trip.status_code == 200 and re.fullmatch(r"[0-9a-f]{32}", trip.text)
    assert live_api.get(f"/trip/{trip.text}").json == {"trip": {"from": first, "to": second}}
