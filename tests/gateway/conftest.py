import pytest


@pytest.fixture
def assert_problem():
    """assert_problem(result, status, **fields) -> the problem document, once `result` is an RFC
    9457 problem with that status (and these fields), with no stack trace in it."""

    def check(result, status, **fields):
        assert result.status_code == status, result.text
        assert result.headers["content-type"] == "application/problem+json"
        problem = result.json
        assert problem["status"] == status
        assert {"type", "title", "status", "detail", "instance"} <= set(problem)
        for key, value in fields.items():
            assert problem[key] == value, problem
        assert "Traceback" not in result.text
        return problem

    return check
