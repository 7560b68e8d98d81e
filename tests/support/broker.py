"""RabbitMQ administration for tests: throwaway vhosts, and a look at their connections.

Uses `rabbitmqctl` (a local broker, run as root or the rabbitmq user); set
RABBITMQ_MANAGEMENT_URL (e.g. http://guest:guest@localhost:15672) to use the
management HTTP API instead, as with the compose file's broker.
"""
import base64
import json
import os
import re
import shutil
import subprocess
import urllib.parse
import urllib.request
import uuid


def _management_url():
    return os.environ.get("RABBITMQ_MANAGEMENT_URL")


def _ctl(*args):
    if shutil.which("rabbitmqctl") is None:
        raise RuntimeError(
            "Tests need a broker they can administer: run them where `rabbitmqctl` works "
            "(as root), or set RABBITMQ_MANAGEMENT_URL to a management API."
        )
    result = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def _api(method, path, body=None):
    base = urllib.parse.urlsplit(_management_url())
    url = f"{base.scheme}://{base.hostname}:{base.port or 15672}/api/{path}"
    request = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode())
    request.add_header("content-type", "application/json")
    token = f"{urllib.parse.unquote(base.username or 'guest')}:{urllib.parse.unquote(base.password or 'guest')}"
    request.add_header("authorization", "Basic " + base64.b64encode(token.encode()).decode())
    with urllib.request.urlopen(request, timeout=30) as response:
        data = response.read()
    return json.loads(data) if data else None


def create_vhost(prefix="travel-test"):
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    if _management_url():
        _api("PUT", f"vhosts/{name}")
        _api("PUT", f"permissions/{name}/guest", {"configure": ".*", "write": ".*", "read": ".*"})
    else:
        _ctl("add_vhost", name)
        _ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    return name


def delete_vhost(name):
    if _management_url():
        _api("DELETE", f"vhosts/{urllib.parse.quote(name, safe='')}")
    else:
        _ctl("delete_vhost", name)


def connections(vhost, client=None):
    """The client connections open on `vhost`, as the names (management API) or pids (rabbitmqctl)
    that close them; only those whose client calls itself `client` (its connection_name), if given."""
    if _management_url():
        found = [(c["name"], (c.get("client_properties") or {}).get("connection_name"))
                 for c in _api("GET", "connections") if c.get("vhost") == vhost]
    else:  # rabbitmqctl closes a connection by its pid
        out = _ctl("list_connections", "--no-table-headers", "vhost", "pid", "client_properties")
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
        if _management_url():
            _api("DELETE", f"connections/{urllib.parse.quote(name, safe='')}")
        else:
            _ctl("close_connection", name, reason)


def queue_consumers(vhost):
    """{queue name: consumer count} on `vhost`."""
    return _queue_column(vhost, "consumers")


def queue_messages(vhost):
    """{queue name: messages ready} on `vhost`."""
    return _queue_column(vhost, "messages")


def _queue_column(vhost, column):
    if _management_url():
        return {q["name"]: q.get(column, 0) for q in _api("GET", f"queues/{urllib.parse.quote(vhost, safe='')}")}
    out = _ctl("list_queues", "-p", vhost, "--no-table-headers", "name", column)
    return {name: int(count) for name, count in (line.split("\t") for line in out.splitlines() if "\t" in line)}
