"""Idempotency against a real Redis: every outcome of workers.common.idempotency."""

import time

import pytest

from schemas.errors import IdempotencyKeyInUse, IdempotencyKeyReused
from workers.common.idempotency import Idempotency
from workers.common.storage import Keyspace, Writes

pytestmark = pytest.mark.fast


@pytest.fixture
def idempotency(redis_client, prefix):
    config = {"IDEMPOTENCY_LEASE": 2}
    return Idempotency(Writes(redis_client, config), Keyspace(prefix, "test"), config)


class Recorder:
    """A create function that counts its runs and can fail once."""

    def __init__(self, fail=None):
        self.runs, self.fail = 0, fail

    def __call__(self, attempt):
        self.runs += 1
        if self.fail:
            error, self.fail = self.fail, None
            raise error
        return {"run": self.runs}


def commit(redis_client, attempt, result):
    """What a service's create script does last: store the done entry."""
    redis_client.set(attempt.key, attempt.done_entry(result), ex=attempt.ttl)
    return result


def test_the_same_key_and_input_returns_the_first_result_and_runs_once(idempotency, redis_client, incoming_call):
    create = Recorder()
    first = idempotency.write_once(incoming_call("d1"), "key", {"a": 1}, lambda a: commit(redis_client, a, create(a)))
    again = idempotency.write_once(incoming_call("d2"), "key", {"a": 1}, lambda a: commit(redis_client, a, create(a)))
    assert first == again == {"run": 1}
    assert create.runs == 1


def test_the_same_key_with_another_input_is_refused(idempotency, redis_client, incoming_call):
    idempotency.write_once(incoming_call("d1"), "key", {"a": 1}, lambda a: commit(redis_client, a, {"x": 1}))
    with pytest.raises(IdempotencyKeyReused):
        idempotency.write_once(incoming_call("d2"), "key", {"a": 2}, Recorder())


def test_input_order_does_not_change_the_fingerprint(idempotency, redis_client, incoming_call):
    idempotency.write_once(incoming_call("d1"), "key", {"a": 1, "b": 2}, lambda a: commit(redis_client, a, {"x": 1}))
    assert idempotency.write_once(incoming_call("d2"), "key", {"b": 2, "a": 1}, Recorder()) == {"x": 1}


def test_a_concurrent_duplicate_is_told_the_key_is_in_use(idempotency, incoming_call):
    pending = idempotency.begin(incoming_call("d1"), "key", {"a": 1})
    assert pending.replay is None
    with pytest.raises(IdempotencyKeyInUse):
        idempotency.begin(incoming_call("d2"), "key", {"a": 1})


def test_a_redelivered_call_takes_over_and_the_first_attempt_can_no_longer_commit(
    idempotency, redis_client, incoming_call
):
    first = idempotency.begin(incoming_call("d1"), "key", {"a": 1})
    second = idempotency.begin(incoming_call("d1"), "key", {"a": 1})  # same delivery id: nameko redelivered it
    assert second.token != first.token
    owner = redis_client.register_script(
        "local e = redis.call('GET', KEYS[1]); return cjson.decode(e).token == ARGV[1] and 1 or 0"
    )
    assert owner(keys=[first.key], args=[second.token]) == 1
    assert owner(keys=[first.key], args=[first.token]) == 0


def test_without_a_key_the_delivery_id_protects_against_redelivery(idempotency, redis_client, incoming_call):
    create = Recorder()
    first = idempotency.write_once(
        incoming_call("delivery-1"), None, {"a": 1}, lambda a: commit(redis_client, a, create(a))
    )
    redelivered = idempotency.write_once(
        incoming_call("delivery-1"), None, {"a": 1}, lambda a: commit(redis_client, a, create(a))
    )
    other_call = idempotency.write_once(
        incoming_call("delivery-2"), None, {"a": 1}, lambda a: commit(redis_client, a, create(a))
    )
    assert first == redelivered == {"run": 1}
    assert other_call == {"run": 2}


def test_a_failed_attempt_gives_the_key_back(idempotency, redis_client, incoming_call):
    create = Recorder(fail=RuntimeError("boom"))
    with pytest.raises(RuntimeError):
        idempotency.write_once(incoming_call("d1"), "key", {"a": 1}, create)
    assert idempotency.write_once(
        incoming_call("d2"), "key", {"a": 1}, lambda a: commit(redis_client, a, create(a))
    ) == {"run": 2}


def test_a_pending_key_is_free_again_after_its_lease(idempotency, incoming_call):
    idempotency.begin(incoming_call("d1"), "key", {"a": 1})
    time.sleep(2.2)
    assert idempotency.begin(incoming_call("d2"), "key", {"a": 1}).replay is None


def test_done_keys_expire_after_the_ttl(idempotency, redis_client, incoming_call):
    idempotency.write_once(incoming_call("d1"), "key", {"a": 1}, lambda a: commit(redis_client, a, {"x": 1}))
    key = idempotency.begin(incoming_call("d2"), "key", {"a": 1}).key
    assert 86000 < redis_client.ttl(key) <= 86400


def test_an_error_after_the_commit_does_not_give_the_key_away(idempotency, redis_client, incoming_call):
    # The create script committed, then the worker saw an error (its reply from Redis lost to a
    # timeout, say): a retry must replay the committed result, not create a second record.
    def commit_then_fail(attempt):
        commit(redis_client, attempt, {"id": "first"})
        raise TimeoutError("the reply was lost")

    with pytest.raises(TimeoutError):
        idempotency.write_once(incoming_call("d1"), "key", {"a": 1}, commit_then_fail)
    assert idempotency.write_once(incoming_call("d2"), "key", {"a": 1}, Recorder()) == {"id": "first"}
