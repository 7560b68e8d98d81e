"""Running one load: wrk or the built-in generator as a child process, its result, and the CPU
time the generator itself used (from wait4's rusage), so the report can tell when the load
generator, not the stack, was the limit."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import wrk
from devstack.processes import ROOT, child_env

GENERATORS = ("wrk", "builtin")


def choose(preference="auto"):
    if preference == "auto":
        return "wrk" if wrk.available() else "builtin"
    if preference == "wrk" and not wrk.available():
        raise RuntimeError("wrk is not installed (Debian: apt-get install wrk); use --generator builtin")
    return preference


def describe(generator, threads):
    if generator == "wrk":
        return {"name": "wrk", "version": wrk.version(), "threads": threads}
    return {"name": "builtin", "version": "bench.loadgen (asyncio streams, uvloop if installed)", "threads": 1}


def run(
    generator,
    url,
    requests,
    connections,
    *,
    duration=None,
    count=None,
    rate=None,
    timeout=5.0,
    threads=1,
    run_id="bench",
):
    """Apply the load; the result dict plus "loadgen": {"cpu_s", "wall_s", "cores", "threads"}.
    `count` (a number of requests) and `rate` (an open loop: requests/s) need the built-in
    generator (wrk's loop is closed; wrk2, which has a rate, is not packaged)."""
    if (count is not None or rate is not None) and generator != "builtin":
        raise ValueError("a request count or a rate needs the built-in generator")
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        if generator == "wrk":
            script = Path(tmp) / "scenario.lua"
            script.write_text(wrk.script(requests))
            argv = wrk.argv(url, script, connections, duration, threads, timeout)
        else:
            plan = Path(tmp) / "plan.json"
            plan.write_text(
                json.dumps(
                    {
                        "url": url,
                        "requests": [r.as_dict() for r in requests],
                        "connections": connections,
                        "duration": duration,
                        "count": count,
                        "rate": rate,
                        "timeout": timeout,
                    }
                )
            )
            argv = [sys.executable, "-m", "bench.loadgen", str(plan)]
            threads = 1
        output, cpu_s, wall_s = _run(
            argv, Path(tmp) / "out.txt", run_id, limit=(duration or 0) + timeout + 60 if count is None else None
        )
    result = wrk.parse(output) if generator == "wrk" else _parse_builtin(output)
    result["loadgen"] = {
        "cpu_s": cpu_s,
        "wall_s": wall_s,
        "cores": cpu_s / wall_s if wall_s else 0.0,
        "threads": threads,
    }
    return result


def _run(argv, out_path, run_id, limit=None):
    """Run `argv` to completion in its own session; (output, CPU seconds, wall seconds).
    Interrupted (Ctrl+C) or over `limit` seconds: the child is killed."""
    with open(out_path, "wb") as out:
        started = time.monotonic()
        popen = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
            env=child_env(run_id),
            start_new_session=True,
        )
        try:
            rusage = _wait(popen, limit)
        except BaseException:
            _kill(popen)
            raise
        wall = time.monotonic() - started
    output = out_path.read_text(errors="replace")
    if popen.returncode != 0:
        raise RuntimeError(f"{argv[0]} exited with {popen.returncode}:\n{output[-2000:]}")
    return output, rusage.ru_utime + rusage.ru_stime, wall


def _wait(popen, limit):
    """Reap the child with wait4, for its own rusage (not that of all our children)."""
    deadline = None if limit is None else time.monotonic() + limit
    while True:
        pid, status, rusage = os.wait4(popen.pid, os.WNOHANG)
        if pid == popen.pid:
            popen.returncode = os.waitstatus_to_exitcode(status)
            return rusage
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"the load generator ran for more than {limit:g}s")
        time.sleep(0.02)


def _kill(popen):
    try:
        os.killpg(popen.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        popen.wait(5)
    except (subprocess.TimeoutExpired, ChildProcessError):
        pass


def _parse_builtin(output):
    for line in reversed(output.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"the built-in load generator printed no result:\n{output[-2000:]}")
