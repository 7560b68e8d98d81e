"""The npm project of tests/openapi/node: the OpenAPI linters and the TypeScript client, at the
versions its package-lock.json pins.

`npm ci` runs only when node_modules was not installed from this very package.json and lock
file (a hash of them is kept in node_modules), so a run after the first costs nothing; npm's own
cache (--prefer-offline) spares the network when it must run.
"""

import hashlib
import os
import shutil
import subprocess

from tests.support.processes import ROOT

NODE_PROJECT = ROOT / "tests" / "openapi" / "node"
INSTALLED_FROM = NODE_PROJECT / "node_modules" / ".installed-from-lock-sha256"
# No telemetry, update notices or install-time analytics from the tools.
QUIET = {
    "REDOCLY_TELEMETRY": "off",
    "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true",
    "SCARF_ANALYTICS": "false",
    "NO_UPDATE_NOTIFIER": "1",
    "npm_config_update_notifier": "false",
    "npm_config_fund": "false",
    "npm_config_audit": "false",
}


def env(**extra):
    return {**os.environ, **QUIET, **extra}


def ensure_installed():
    """The project's node_modules, as its lock file says; the project's directory."""
    assert shutil.which("npm") and shutil.which("node"), "tests/openapi/node needs Node.js 20+ and npm"
    node_version = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout
    assert int(node_version.lstrip("v").split(".")[0]) >= 20, (
        f"tests/openapi/node needs Node.js 20+, not {node_version}"
    )
    # package.json too: `npm ci` refuses a lock file that no longer matches it, and should say so.
    manifests = b"".join((NODE_PROJECT / name).read_bytes() for name in ("package.json", "package-lock.json"))
    lock_hash = hashlib.sha256(manifests).hexdigest()
    if not INSTALLED_FROM.exists() or INSTALLED_FROM.read_text() != lock_hash:
        result = run_npm("ci", "--prefer-offline", timeout=600)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        INSTALLED_FROM.write_text(lock_hash)
    return NODE_PROJECT


def run_npm(*args, timeout=300, **extra_env):
    return subprocess.run(
        ["npm", *args], cwd=NODE_PROJECT, capture_output=True, text=True, timeout=timeout, env=env(**extra_env)
    )


def run_tool(name, *args, timeout=300, **extra_env):
    """One of the project's installed command-line tools (node_modules/.bin)."""
    return subprocess.run(
        [str(NODE_PROJECT / "node_modules" / ".bin" / name), *args],
        cwd=NODE_PROJECT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env(**extra_env),
    )
