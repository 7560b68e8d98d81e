"""Request bodies as real clients send them, through the real servers: chunked, without a
Content-Length, the ASGI app under uvicorn and the WSGI app under gunicorn and waitress."""

import http.client
import json
import urllib.parse

import pytest


@pytest.mark.parametrize("kind", ["asgi", "wsgi", "waitress"])
def test_a_chunked_json_body_is_read(drill_stack, kind):
    stack = drill_stack(gateways=(kind,))
    parts = urllib.parse.urlsplit(stack.url(kind))
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.request(
        "POST",
        "/airports",
        body=iter([b'{"name": ', b'"sent in chunks"}']),
        headers={"Content-Type": "application/json"},
        encode_chunked=True,
    )
    response = connection.getresponse()
    body = response.read()
    assert response.status == 201, body
    assert json.loads(body)["name"] == "sent in chunks"
