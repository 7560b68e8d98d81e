"""What keeps one run of the stack apart from every other on the same machine: a RabbitMQ vhost
and a Redis key prefix of its own, free ports, and an environment holding only the settings the
run chooses."""

import os
import re
import socket
import time
from dataclasses import fields

from devstack.processes import ROOT
from workers.common.redis_clients import connect

# read by gateway/gunicorn.conf.py, gunicorn itself, prometheus_client (THREADS is a gateway setting)
SERVER_VARIABLES = {"GUNICORN_CMD_ARGS", "WEB_CONCURRENCY", "HOST", "PORT", "PROMETHEUS_MULTIPROC_DIR"}


def free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_port(port, timeout, up=True, host="127.0.0.1"):
    """Until something listens on `port` (or, with up=False, nothing does); TimeoutError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            if up:
                return
        except OSError:
            if not up:
                return
        time.sleep(0.1)
    raise TimeoutError(f"port {port} did not go {'up' if up else 'down'} within {timeout}s")


def vhost_uri(amqp_base, vhost):
    """The AMQP URI of `vhost` on the broker at `amqp_base` (a URI without a vhost)."""
    return f"{amqp_base.rstrip('/')}/{vhost}"


def configuration_variables():
    """The environment variables the gateway (gateway/settings.py) and the workers
    (workers/config.yml) read."""
    from gateway.settings import Settings

    names = {spec.metadata["variable"] for spec in fields(Settings)} | SERVER_VARIABLES
    names.update(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", (ROOT / "workers" / "config.yml").read_text()))
    return names


def clean_environment():
    """Our environment without the stack's configuration variables: a run's settings are the ones
    it sets (and reports), not whatever the shell happens to export."""
    names = configuration_variables()
    return {k: v for k, v in os.environ.items() if k not in names}


def delete_keys(redis_uri, prefix, batch=1000):
    """Delete every key under `prefix` (never anything else); how many there were. UNLINK, not DEL:
    the server frees big values (a bulk-loaded index of a million members: DEL blocks it for over
    100 ms) in the background, so other users of a shared server do not stall. 3.8 million keys
    take about 8 s."""
    clients = connect(redis_uri)  # any REDIS_URI form the workers take, Sentinel's too
    client = clients.primary
    deleted = 0
    try:
        keys = []
        for key in client.scan_iter(match=prefix.replace("*", r"\*") + "*", count=batch):
            keys.append(key)
            if len(keys) >= batch:
                deleted += client.unlink(*keys)
                keys = []
        if keys:
            deleted += client.unlink(*keys)
    finally:
        clients.close()
    return deleted
