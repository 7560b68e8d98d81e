"""What the gateway acknowledged is kept (Redis with an append-only file, as the compose file runs
it), and the links to the broker and Redis can be TLS."""

import time

from devstack.http import Client
from devstack.layout import SERVICE_NAMES
from devstack.processes import wait_for_services
from tests.support.private import RedisServer


def test_an_acknowledged_create_survives_a_worker_crash_and_redis_restarts(drill_stack):
    redis = RedisServer().start()
    try:
        stack = drill_stack(redis_uri=redis.uri)
        client = Client(stack.url())
        first = client.post("/airports", {"name": "kept through a clean restart"})
        assert first.status == 201
        stack.workers[0].kill()  # the worker dies...
        redis.stop()  # ...and Redis restarts cleanly (SIGTERM: it syncs its append-only file)
        redis.start()
        wait_for_services(stack.amqp_uri, SERVICE_NAMES, [stack.add_worker()])
        assert client.get(f"/airports/{first.json()['id']}").json() == first.json()

        second = client.post("/airports", {"name": "kept through a crash"})
        assert second.status == 201
        time.sleep(1.5)  # appendfsync everysec: a crash loses at most the last second (README)
        redis.crash()
        redis.start()
        assert client.get(f"/airports/{second.json()['id']}").json() == second.json()
        assert client.get(f"/airports/{first.json()['id']}").status == 200
    finally:
        redis.close()


def test_tls_to_the_broker_and_to_redis(drill_stack, rabbit, certificates):
    redis = RedisServer(tls=certificates).start()
    try:
        assert redis.uri.startswith("rediss://") and rabbit.tls_uri.startswith("amqps://")
        stack = drill_stack(
            amqp=rabbit.tls_uri,
            redis_uri=redis.uri,
            gateways=("asgi", "wsgi"),
            worker_extra={"AMQP_SSL": f"{{ca_certs: {certificates.ca}, cert_reqs: 2}}"},
            gateway_extra={"AMQP_SSL_CA": certificates.ca},
            amqp_ssl={"ca_certs": str(certificates.ca), "cert_reqs": 2},
        )
        for kind in ("asgi", "wsgi"):
            client = Client(stack.url(kind))
            a = client.post("/airports", {"name": f"over TLS ({kind})"})
            b = client.post("/airports", {"name": "the other end"})
            assert a.status == b.status == 201, (a.describe(), b.describe())
            trip = client.post("/trips", {"airport_from": a.json()["id"], "airport_to": b.json()["id"]})
            assert trip.status == 201, trip.describe()
            assert client.get("/health/ready").status == 200
    finally:
        redis.close()
