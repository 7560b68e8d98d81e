"""Request bodies as real clients send them, through the real servers: chunked, without a
Content-Length, the ASGI app under uvicorn and the WSGI app under uvicorn, gunicorn and waitress; a
malformed one is a 400 under each."""

import http.client
import json
import urllib.parse

import pytest

KINDS = ["asgi", "wsgi", "gunicorn", "waitress"]


@pytest.mark.parametrize("kind", KINDS)
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


@pytest.mark.parametrize("kind", KINDS)
def test_a_malformed_chunked_body_is_400_not_500(drill_stack, kind):
    from drills.hostile_clients import exchange

    stack = drill_stack(gateways=(kind,))
    head = b"POST /airports HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
    status, _ = exchange(stack.url(kind), head + b"\r\nzz\r\n{}\r\n0\r\n\r\n")
    assert status == 400
