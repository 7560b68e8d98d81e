"""Secrets kept out of the gateway's logs, and request ids in them: the gateways as users run them
(uvicorn, gunicorn), on the real broker (the integration tier)."""

import json
import re
import time
import urllib.error
import urllib.request

import pytest

from tests.support.processes import start_gateway


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_passwords_never_reach_the_logs(kind, stack_env, vhost):
    secret = "S3cret-Pa55"
    env = {**stack_env, "AMQP_URI": f"amqp://guest:{secret}@127.0.0.1:5672/{vhost}", "RPC_STARTUP_WAIT": "1"}
    process, url = start_gateway(kind, env)
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:  # the broker refuses that password
            urllib.request.urlopen(f"{url}/airports/" + "a" * 32, timeout=10)
        assert refused.value.code == 503
        time.sleep(0.5)
    finally:
        process.stop()
    output = process.output()
    assert secret not in output
    assert re.search(r"amqp://guest:\*\*\*@127\.0\.0\.1", output), output[-2000:]


def test_json_logs_carry_the_request_id(stack_env, workers):
    process, url = start_gateway("asgi", {**stack_env, "LOG_FORMAT": "json"})
    try:
        request = urllib.request.Request(f"{url}/health/live", headers={"X-Request-ID": "json-req-1"})
        urllib.request.urlopen(request, timeout=10).close()
        time.sleep(0.3)
    finally:
        process.stop()
    lines = [json.loads(line) for line in process.output().splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("request_id") == "json-req-1"]
    assert access and access[0]["logger"] == "gateway.access" and "GET /health/live 200" in access[0]["message"]
