"""What the harness's tests share."""

import pytest
import redis

from devstack import rabbitmq
from devstack.processes import alive, marked_pids
from tests.support.servers import REDIS_URI


@pytest.fixture(scope="session")  # stateless: any test or fixture may use it
def assert_nothing_left():
    """`assert_nothing_left(run_id)`: fails unless the harness run removed all it made: its
    processes (marked with the run id), its vhost `bench-<run id>` and its Redis prefix."""

    def check(run_id):
        client = redis.Redis.from_url(REDIS_URI)
        try:
            keys = list(client.scan_iter(match=f"bench-{run_id}:*", count=1000))
        finally:
            client.close()
        left = {
            "processes": [pid for pid in marked_pids(run_id) if alive(pid)],
            "vhost": rabbitmq.vhost_exists(f"bench-{run_id}"),
            "redis_keys": keys[:10],
        }
        assert left == {"processes": [], "vhost": False, "redis_keys": []}

    return check
