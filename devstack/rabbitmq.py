"""RabbitMQ administration for the harness (and the test suite, through tests/support/broker.py):
a throwaway vhost per run. Uses `rabbitmqctl` on a local broker (run as root or the rabbitmq user);
set RABBITMQ_MANAGEMENT_URL (e.g. http://guest:guest@localhost:15672) to use the management
HTTP API instead.
"""

import base64
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request


def management_url():
    return os.environ.get("RABBITMQ_MANAGEMENT_URL")


def ctl(*args):
    if shutil.which("rabbitmqctl") is None:
        raise RuntimeError(
            "This needs a broker it can administer (a vhost of its own): run it where "
            "`rabbitmqctl` works (as root), or set RABBITMQ_MANAGEMENT_URL to a management API."
        )
    result = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def api(method, path, body=None):
    base = urllib.parse.urlsplit(management_url())
    url = f"{base.scheme}://{base.hostname}:{base.port or 15672}/api/{path}"
    request = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode())
    request.add_header("content-type", "application/json")
    token = f"{urllib.parse.unquote(base.username or 'guest')}:{urllib.parse.unquote(base.password or 'guest')}"
    request.add_header("authorization", "Basic " + base64.b64encode(token.encode()).decode())
    with urllib.request.urlopen(request, timeout=30) as response:
        data = response.read()
    return json.loads(data) if data else None


def create_vhost(name, user="guest", queue_type=None):
    """Create `name` and give `user` all rights on it; `queue_type` (classic, quorum) is the
    vhost's default queue type, for the queues nameko declares without one (RabbitMQ 3.10+)."""
    if management_url():
        api(
            "PUT",
            f"vhosts/{urllib.parse.quote(name, safe='')}",
            {"default_queue_type": queue_type} if queue_type else None,
        )
        api(
            "PUT",
            f"permissions/{urllib.parse.quote(name, safe='')}/{user}",
            {"configure": ".*", "write": ".*", "read": ".*"},
        )
    else:
        ctl("add_vhost", name, *(["--default-queue-type", queue_type] if queue_type else []))
        ctl("set_permissions", "-p", name, user, ".*", ".*", ".*")
    return name


def vhost_exists(name):
    if management_url():
        try:
            api("GET", f"vhosts/{urllib.parse.quote(name, safe='')}")
            return True
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return False
            raise
    return name in ctl("list_vhosts", "--no-table-headers", "name").split()


def delete_vhost(name):
    """Delete `name` (and every queue and connection on it); False if it was already gone."""
    try:
        if management_url():
            api("DELETE", f"vhosts/{urllib.parse.quote(name, safe='')}")
        else:
            ctl("delete_vhost", name)
    except (RuntimeError, urllib.error.HTTPError):
        if vhost_exists(name):  # asked only on failure: each rabbitmqctl call starts an Erlang VM
            raise
        return False
    return True
