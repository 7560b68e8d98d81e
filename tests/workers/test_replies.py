"""The workers' reply encoding (workers/common/replies.py): nameko's reply format, encoded once."""

import orjson
import pytest
from nameko.exceptions import deserialize

from schemas.errors import NotFound
from workers.common.replies import reply_body

pytestmark = pytest.mark.fast


def test_a_result_is_nameko_shaped():
    assert orjson.loads(reply_body({"a": [1, "x"]}, None)) == {"result": {"a": [1, "x"]}, "error": None}


def test_an_error_comes_back_as_its_type():
    exc = NotFound("gone", ["f" * 32])
    error = orjson.loads(reply_body(None, (NotFound, exc, None)))["error"]
    rebuilt = deserialize(error)
    assert (
        isinstance(rebuilt, NotFound) and rebuilt.ids == ["f" * 32] and error["exc_path"] == "schemas.errors.NotFound"
    )


def test_an_unserialisable_result_is_reported_not_raised():
    error = orjson.loads(reply_body({1, 2}, None))["error"]
    assert error["exc_type"] == "UnserializableValueError"
