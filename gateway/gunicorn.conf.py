"""gunicorn settings for the WSGI gateway: `gunicorn -c gateway/gunicorn.conf.py gateway.wsgi:app`.

Every value can be overridden on the command line or with GUNICORN_CMD_ARGS."""

import math
import os

from gateway import draining
from gateway.settings import Settings

_gateway = Settings.from_env()
worker_class = "gthread"
# THREADS, read as the gateway reads it: its RPC pool holds a proxy per thread
threads = _gateway.server_threads
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"  # HOST=0.0.0.0 to open it
graceful_timeout = 10 + math.ceil(_gateway.shutdown_grace)  # after SHUTDOWN_GRACE, 10 s to finish
accesslog = None  # the gateway writes its own access log, with request ids
# gunicorn (27 here) opens a control socket at ~/.gunicorn/gunicorn.ctl: one path for every instance a
# user runs on a host, which the next instance takes over. The gateway does not use it.
control_socket_disable = True


def on_starting(server):
    """`--threads` or GUNICORN_CMD_ARGS may have changed the thread count: the workers, forked
    after this, size their RPC pools from THREADS (a link per thread)."""
    os.environ["THREADS"] = str(server.cfg.threads)


def post_worker_init(worker):
    """SHUTDOWN_GRACE: a worker told to stop fails its readiness and serves on for that long first
    (gateway/draining.py); the master sends it SIGTERM and waits `graceful_timeout`."""
    draining.on_sigterm(_gateway.shutdown_grace, worker.handle_exit)


def child_exit(server, worker):
    """In Prometheus multiprocess mode, forget the metrics of a worker that is gone."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
