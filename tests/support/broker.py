"""RabbitMQ administration for tests: throwaway vhosts (devstack.rabbitmq), their connections and queues.

Uses `rabbitmqctl` (a local broker, run as root or the rabbitmq user); set
RABBITMQ_MANAGEMENT_URL (e.g. http://guest:guest@localhost:15672) to use the
management HTTP API instead, as with the compose file's broker.
"""

import re
import time
import urllib.parse
import uuid

from devstack import rabbitmq
from devstack.rabbitmq import api, ctl, management_url

ABANDONED_AFTER = 3600  # seconds: a test session's vhost older than this, with nobody connected


def create_vhost(prefix="travel-test"):
    """A new vhost named `<prefix>-<random>-<unix time>`, guest allowed everything on it. The time
    lets another session tell an abandoned vhost from one in use between two tests."""
    return rabbitmq.create_vhost(f"{prefix}-{uuid.uuid4().hex[:8]}-{int(time.time())}")


def _created_at(name):
    """The unix time in a vhost's name (0 for names made before it carried one: old enough)."""
    tail = name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() and len(tail) >= 10 else 0


delete_vhost = rabbitmq.delete_vhost


def remove_abandoned(prefix="travel-test"):
    """Delete `prefix*` vhosts nobody is connected to: left by a test run that was killed before
    its clean-up could run. The names found."""
    if management_url():
        names = [v["name"] for v in api("GET", "vhosts")]
    else:
        names = ctl("list_vhosts", "--no-table-headers", "name").split()
    # A session's vhost has no connection between two of its tests: only old ones are abandoned.
    old = time.time() - ABANDONED_AFTER
    abandoned = [
        name for name in names if name.startswith(prefix) and _created_at(name) < old and not connections(name)
    ]
    for name in abandoned:
        delete_vhost(name)
    return abandoned


def connections(vhost, client=None):
    """The client connections open on `vhost`, as the names (management API) or pids (rabbitmqctl)
    that close them; only those whose client calls itself `client` (its connection_name), if given."""
    if management_url():
        found = [
            (c["name"], (c.get("client_properties") or {}).get("connection_name"))
            for c in api("GET", "connections")
            if c.get("vhost") == vhost
        ]
    else:  # rabbitmqctl closes a connection by its pid
        out = ctl("list_connections", "--no-table-headers", "vhost", "pid", "client_properties")
        rows = [line.split("\t") for line in out.splitlines() if line.count("\t") >= 2]
        found = [(pid, _connection_name(props)) for host, pid, props in rows if host == vhost]
    return [name for name, connection_name in found if client is None or connection_name == client]


def _connection_name(client_properties):
    match = re.search(r'\{"connection_name","([^"]*)"\}', client_properties)
    return match.group(1) if match else None


def close_connections(vhost, client=None):
    """Have the broker close client connections on `vhost` (as an operator or a failover would)."""
    close(connections(vhost, client))


def close(names, reason="closed by the test suite"):
    """Close the connections `connections()` named."""
    for name in names:
        if management_url():
            api("DELETE", f"connections/{urllib.parse.quote(name, safe='')}")
        else:
            ctl("close_connection", name, reason)


def queue_consumers(vhost):
    """{queue name: consumer count} on `vhost`."""
    return _queue_column(vhost, "consumers")


def queue_messages(vhost):
    """{queue name: messages ready} on `vhost`."""
    return _queue_column(vhost, "messages")


def _queue_column(vhost, column):
    if management_url():
        return {q["name"]: q.get(column, 0) for q in api("GET", f"queues/{urllib.parse.quote(vhost, safe='')}")}
    out = ctl("list_queues", "-p", vhost, "--no-table-headers", "name", column)
    return {name: int(count) for name, count in (line.split("\t") for line in out.splitlines() if "\t" in line)}


def consumer_priorities(vhost):
    """[(queue name, x-priority or None)] of the consumers on `vhost`, sorted."""
    if management_url():
        found = [
            (c["queue"]["name"], (c.get("arguments") or {}).get("x-priority"))
            for c in api("GET", f"consumers/{urllib.parse.quote(vhost, safe='')}")
        ]
    else:
        out = ctl("list_consumers", "-p", vhost, "--no-table-headers", "queue_name", "arguments")
        rows = [line.split("\t") for line in out.splitlines() if "\t" in line]
        found = [(name, _priority(arguments)) for name, arguments in rows]
    return sorted(found, key=lambda row: (row[0], row[1] or 0))


def _priority(arguments):
    match = re.search(r'\{"x-priority",(-?\d+)\}', arguments)
    return int(match.group(1)) if match else None
