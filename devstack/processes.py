"""The processes the project starts for itself (bench, tests, drills, scripts/run), and how they
all get stopped.

Each child runs in a session of its own (so a Ctrl+C in the terminal reaches only its starter,
which then stops them in order), is killed by the kernel if the starter dies without cleaning up
(PR_SET_PDEATHSIG), and carries DEVSTACK_RUN_ID=<run id> in its environment when started for a
run, so that a sweep can find anything left over (a gunicorn worker orphaned by its master, say)
and kill it.
"""

import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RUN_ID_VARIABLE = "DEVSTACK_RUN_ID"

_PR_SET_PDEATHSIG = 1
try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:  # not Linux: no parent-death signal
    _libc = None


def _die_with_parent():
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class ChildProcess:
    """A child in its own session, its output in a log file (kept in `log_dir` if given), or on
    our own stdout with `echo` (scripts/run: the user reads it)."""

    def __init__(self, name, argv, env, log_dir=None, cwd=ROOT, echo=False):
        self.name, self.argv, self.env, self.cwd = name, [str(a) for a in argv], env, cwd
        if echo:
            self.log = self.log_path = None  # output() is then empty
        elif log_dir is not None:
            self.log_path = Path(log_dir) / f"{name}.log"
            self.log = open(self.log_path, "wb")
        else:
            self.log = tempfile.NamedTemporaryFile(prefix=f"devstack-{name}-", suffix=".log", delete=False)
            self.log_path = Path(self.log.name)
        self.popen = None
        self.terminated = False
        self.members = []

    def start(self):
        self.popen = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        return self

    @property
    def pid(self):
        return self.popen.pid

    def running(self):
        return self.popen is not None and self.popen.poll() is None

    def pids(self):
        """This process and everything it forked."""
        return process_tree(self.pid) if self.running() else []

    def output(self, tail=None):
        """Its output so far, or the last `tail` characters of it."""
        try:
            text = self.log_path.read_text(errors="replace") if self.log_path else ""
        except OSError:
            return ""
        return text if tail is None else text[-tail:]

    def signal(self, sig):
        """`sig` to the process itself (a worker to kill, a server to stop), not its session."""
        if self.running():
            os.kill(self.popen.pid, sig)

    def kill(self):
        """SIGKILL, as a crash would; the exit status."""
        self.signal(signal.SIGKILL)
        return self.popen.wait(15)

    def close(self, timeout=10.0):
        """Stop it (see `stop`) and remove its log (for logs nobody keeps: a test's)."""
        self.stop(timeout)
        if self.log_path is not None:
            self.log_path.unlink(missing_ok=True)

    def terminate(self):
        """SIGTERM to the whole session's process group (once), without waiting: `stop()` waits."""
        if self.popen is not None and not self.terminated:
            self.members = process_tree(self.pid)
            self.terminated = True
            if self.popen.poll() is None:
                _signal_group(self.pid, signal.SIGTERM)

    def stop(self, timeout=10.0):
        """SIGTERM to the whole session's process group, SIGKILL to what is left after `timeout`."""
        if self.popen is None:
            return None
        self.terminate()
        members = self.members
        if self.popen.poll() is None:
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.pid, signal.SIGKILL)
                self.popen.wait(5)
        for pid in members:  # forked children that outlived the leader (e.g. gunicorn workers)
            _kill(pid, signal.SIGKILL)
        if self.log is not None:
            self.log.close()
        return self.popen.returncode


def _signal_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _kill(pid, sig):
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def child_env(run_id, base=None, **values):
    """The environment for a child: `base` (default: ours) with `values` and the run id marker."""
    env = dict(os.environ if base is None else base)
    env.update({k: str(v) for k, v in values.items()})
    env[RUN_ID_VARIABLE] = run_id
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def process_tree(pid):
    """`pid` and every live process it forked, sorted; empty if it is gone."""
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []
    return sorted(process.pid for process in tree if _live(process))


def alive(pid):
    """Whether `pid` runs (a zombie, exited but not yet reaped, does not)."""
    try:
        return _live(psutil.Process(pid))
    except psutil.NoSuchProcess:
        return False


def _live(process):
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def marked_pids(run_id):
    """Every process (other than this one) started for `run_id`: those carrying its marker."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.pid != os.getpid() and process.environ().get(RUN_ID_VARIABLE) == run_id:
                found.append(process.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def sweep(run_id, grace=3.0):
    """Kill every process (other than this one) started for `run_id`: SIGTERM, then SIGKILL.
    The number found."""
    found = marked_pids(run_id)
    for pid in found:
        _kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(alive(pid) for pid in found):
        time.sleep(0.1)
    for pid in found:
        _kill(pid, signal.SIGKILL)
    return len(found)


def wait_for_services(amqp_uri, services, processes=(), timeout=30.0, ssl=None):
    """Block until each service answers `health()` (a bare greeting service: `hello`) over
    `amqp_uri`; fail at once, with its output, if one of `processes` exits meanwhile."""
    deadline = time.monotonic() + timeout
    pending = list(services)
    while pending:
        for process in processes:
            if not process.running():
                raise RuntimeError(f"{process.name} exited:\n{process.output(4000)}")
        try:
            with cluster_rpc(amqp_uri, timeout=1, ssl=ssl) as rpc:
                while pending:
                    if pending[0] == "greeting_service":
                        rpc[pending[0]].hello(name="probe")
                    else:
                        rpc[pending[0]].health()
                    pending.pop(0)
        except Exception as exc:
            if time.monotonic() > deadline:
                logs = "\n".join(process.output(4000) for process in processes)
                raise TimeoutError(
                    f"{pending} did not answer within {timeout:g}s ({type(exc).__name__}: {exc})\n{logs}"
                ) from None
            time.sleep(0.2)


def cluster_rpc(amqp_uri, timeout=10, ssl=None):
    """A nameko ClusterRpcProxy to the services on `amqp_uri` (use it as a context manager)."""
    import logging
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # eventlet's deprecation notice, on import
        from nameko.standalone.rpc import ClusterRpcProxy
    logging.getLogger("amqp").setLevel(logging.ERROR)  # "Received method ... during closing channel"
    config = {"AMQP_URI": amqp_uri, **({"AMQP_SSL": ssl} if ssl else {})}
    return ClusterRpcProxy(config, timeout=timeout)
