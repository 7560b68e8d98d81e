"""The supervisor behind scripts/cluster and scripts/hosts: `up` starts `python -m MODULE _serve`
in a session of its own, which owns what it starts and writes a state file in its directory once
ready (or failed); `down` asks it to stop with SIGTERM; `status` reads the state."""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

from devstack.processes import ROOT, alive

STATE = "state.json"


def read_state(directory):
    try:
        return json.loads((directory / STATE).read_text())
    except (OSError, ValueError):
        return None


def write_state(directory, state):
    (directory / STATE).write_text(json.dumps(state, indent=2))


def running(state):
    """Whether the supervisor of `state` lives (a zombie, killed but not yet reaped, does not)."""
    pid = (state or {}).get("supervisor")
    return pid is not None and alive(pid)


def stop_requested():
    """An Event set by SIGTERM or SIGINT: the supervisor's cue to stop what it started."""
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    return stopping


def serve_until_stopped(directory, state, stopping):
    """Everything is started: write `state` as ready, then wait for `stopping`."""
    state["ready"] = True
    write_state(directory, state)
    while not stopping.wait(1):
        pass


def record_failure(directory, state, exc):
    """The start failed: say why in the state, for `launch` to report."""
    state["error"] = f"{type(exc).__name__}: {exc}"
    write_state(directory, state)


def launch(module, directory, args, what, timeout):
    """The running supervisor's state, or a new supervisor's once it is ready (SystemExit if it
    fails or takes longer than `timeout`); its output in `directory`/supervisor.log."""
    state = read_state(directory)
    if running(state):
        return state
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    directory.chmod(0o755)
    log = open(directory / "supervisor.log", "w")  # the supervisor keeps it open
    argv = [sys.executable, "-m", module, "_serve", "--dir", str(directory), *map(str, args)]
    subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=log, start_new_session=True)
    print(f"starting {what} in {directory} ...", file=sys.stderr)
    deadline = time.monotonic() + timeout
    while not ((state := read_state(directory)) and (state.get("ready") or state.get("error"))):
        if time.monotonic() > deadline:
            raise SystemExit(f"not up within {timeout}s; see {directory / 'supervisor.log'}")
        time.sleep(0.5)
    if state.get("error"):
        raise SystemExit(f"could not start: {state['error']} (see {directory / 'supervisor.log'})")
    return state


def stop(state, timeout=120):
    """SIGTERM to the supervisor of `state`, and wait for it; False if it was not running."""
    if not running(state):
        return False
    pid = state["supervisor"]
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while running(state) and time.monotonic() < deadline:
        time.sleep(0.5)
    return True


def dispatch(command, actions):
    """Run `actions[command]` (the CLI's `up`, `down`, `status` and `_serve`): its exit status."""
    return actions[command]() or 0
