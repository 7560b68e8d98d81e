"""RabbitMQ administration for tests: throwaway vhosts (devstack.rabbitmq), their connections and queues.

Uses `rabbitmqctl` (a local broker, run as root or the rabbitmq user); set
RABBITMQ_MANAGEMENT_URL (e.g. http://guest:guest@localhost:15672) to use the
management HTTP API instead, as with the compose file's broker.
"""

import re
import urllib.parse
import uuid

from devstack import rabbitmq
from devstack.rabbitmq import api, ctl, management_url


def create_vhost(prefix="travel-test"):
    """A new vhost named `<prefix>-<random>`, guest allowed everything on it."""
    return rabbitmq.create_vhost(f"{prefix}-{uuid.uuid4().hex[:8]}")


delete_vhost = rabbitmq.delete_vhost


def remove_abandoned(prefix="travel-test"):
    """Delete `prefix*` vhosts nobody is connected to: left by a test run that was killed before
    its clean-up could run. The names found."""
    if management_url():
        names = [v["name"] for v in api("GET", "vhosts")]
    else:
        names = ctl("list_vhosts", "--no-table-headers", "name").split()
    abandoned = [name for name in names if name.startswith(prefix) and not connections(name)]
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
