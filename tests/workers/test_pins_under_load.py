"""The pinned nameko stack (setup.cfg: nameko, eventlet, kombu, amqp, redis) under concurrent load.

nameko issue 783 reports `'Queue' object has no attribute 'mutex'` with eventlet >= 0.34: kombu's
resource pools reached into `Queue.mutex`, which eventlet's green queue lacks. These tests drive
the pools the same way, hard, and would fail on a combination that has the bug.
"""

import subprocess
import sys
import threading

from nameko.standalone.rpc import ClusterRpcProxy

from tests.support.processes import ROOT

THREADS = 12
ROUNDS = 40


def test_workers_serve_concurrent_mixed_traffic_without_errors(workers, amqp):
    log_before = len(workers.output())  # the session's workers: judge only what this test made them log
    failures, done = [], []

    def client(n):
        try:
            with ClusterRpcProxy({"AMQP_URI": amqp}, timeout=30) as rpc:
                home = rpc.airports_service.create(name=f"home {n}")
                for i in range(ROUNDS):
                    away = rpc.airports_service.create(name=f"away {n}.{i}")
                    trip = rpc.trips_service.create(home["id"], away["id"])  # trips -> airports inside
                    assert rpc.trips_service.get(trip["id"]) == trip
                    assert rpc.airports_service.get(away["id"]) == away
                    rpc.trips_service.list(airport=home["id"], limit=5)
                    done.append(i)
        except Exception as exc:  # collected, so one failure does not hide the others
            failures.append(repr(exc))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(THREADS)]
    [t.start() for t in threads]
    [t.join(300) for t in threads]

    assert failures == []
    assert len(done) == THREADS * ROUNDS
    assert workers.running()
    log = workers.output()[log_before:]
    assert "mutex" not in log
    assert "Traceback" not in log


KOMBU_POOLS_UNDER_EVENTLET = """
import eventlet
eventlet.monkey_patch()
import sys
from kombu import Connection, Exchange
from kombu.pools import connections, producers, set_limit

amqp = sys.argv[1]
exchange = Exchange("pin-check", type="fanout", auto_delete=True)

def publish(n):
    with connections[Connection(amqp)].acquire(block=True) as conn:
        with producers[conn].acquire(block=True) as producer:
            producer.publish({"n": n}, exchange=exchange, declare=[exchange], serializer="json")

pool = eventlet.GreenPool(50)
for round in range(3):
    list(pool.imap(publish, range(200)))
    set_limit(2 + round)   # resize the pools that now hold resources: kombu takes Queue.mutex here
    set_limit(100)
print("ok")
"""


def test_kombu_pools_resize_under_eventlet(amqp):
    result = subprocess.run(
        [sys.executable, "-c", KOMBU_POOLS_UNDER_EVENTLET, amqp], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "ok"
