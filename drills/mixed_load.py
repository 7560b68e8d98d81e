"""The mixed load of the fault drills, recorded as a History (drills/history.py): `clients` threads,
each on a keep-alive connection of its own, send 90 % GETs of one airport (created at the start),
10 % airport creates (half with an Idempotency-Key), and delete one in five of their creates later,
so that a delete that comes undone shows."""

import random
import threading
import time
import uuid

from devstack.http import Client
from drills.history import CREATE, DELETE, OK, READ, History
from drills.scenarios import _run_threads

CREATE_SHARE = 0.10  # of the requests
DELETE_SHARE = 0.02  # of the requests, while a thread has a create of its own to delete
DELETE_ONE_IN = 5  # creates: one in this many is deleted later


class MixedLoad:
    """load = MixedLoad(url).start(); ... faults, timed with load.history.clock() ...;
    history = load.stop(). `timeout`: each request's client timeout, in seconds."""

    def __init__(self, url, *, clients=16, timeout=15.0, token=None, run=None, seed=0):
        self.client = Client(url, token, timeout=timeout)  # one connection per thread
        self.clients, self.timeout, self.seed = clients, timeout, seed
        self.history = History(run or f"mixed-{uuid.uuid4().hex[:8]}")
        self.airport = None  # the id of the airport every GET reads
        self._stop = threading.Event()
        self._threads = []

    def start(self):
        """Create the airport to read (recorded as client 0's first operation), then start the
        clients; RuntimeError if that create fails. The create carries a key, so that starting again
        after a failure that took effect (a timeout) stores no second airport."""
        seed = self._create(0, "seed", keyed=True)
        if seed.outcome != OK:
            raise RuntimeError(f"cannot create the airport to read: {seed}")
        self.airport = seed.record
        self._threads = _run_threads(self.clients, self._traffic)
        return self

    def stop(self):
        """Stop the clients (each finishes its request in flight) and return the History. A
        request that did not come back in time stays in it, without a completion: unknown."""
        self._stop.set()
        deadline = time.monotonic() + self.timeout + 5
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return self.history

    def _traffic(self, n):
        chance = random.Random(f"{self.history.run}-{self.seed}-{n}")
        to_delete, created, step = [], 0, 0
        while not self._stop.is_set():
            step += 1
            roll = chance.random()
            if roll < CREATE_SHARE:
                created += 1
                # the first create of each thread carries a key: its half starts at once
                made = self._create(n, step, keyed=created % 2 == 1)
                if made.outcome == OK and created % DELETE_ONE_IN == 0:
                    to_delete.append(made.record)
            elif roll < CREATE_SHARE + DELETE_SHARE and to_delete:
                self._delete(n, to_delete.pop(0))
            else:
                self._read(n)

    def _create(self, n, step, keyed=False):
        marker = f"{self.history.run}-{n}-{step}"
        key = f"{marker}-key" if keyed else None
        operation = self.history.invoke(n, CREATE, marker=marker, idempotency_key=key)
        outcome = self.client.post("/airports", {"name": marker}, headers={"Idempotency-Key": key} if key else {})
        record = outcome.json().get("id") if outcome.status == 201 else None
        self.history.complete(operation, outcome.status, outcome.error, record=record)
        return operation

    def _read(self, n):
        operation = self.history.invoke(n, READ, record=self.airport)
        outcome = self.client.get(f"/airports/{self.airport}")
        self.history.complete(operation, outcome.status, outcome.error)

    def _delete(self, n, airport):
        operation = self.history.invoke(n, DELETE, record=airport)
        outcome = self.client.request("DELETE", f"/airports/{airport}")
        self.history.complete(operation, outcome.status, outcome.error)


def mixed_load(url, duration, **options):
    """The History of `duration` seconds of the load (`options`: MixedLoad's)."""
    load = MixedLoad(url, **options).start()
    time.sleep(duration)
    return load.stop()
