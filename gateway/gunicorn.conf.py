"""gunicorn settings for the WSGI gateway: `gunicorn -c gateway/gunicorn.conf.py gateway.wsgi:app`.

Every value can be overridden on the command line or with GUNICORN_CMD_ARGS."""
import os

worker_class = "gthread"
threads = int(os.environ.get("THREADS", "16"))
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
graceful_timeout = 10
accesslog = None  # the gateway writes its own access log, with request ids


def child_exit(server, worker):
    """In Prometheus multiprocess mode, forget the metrics of a worker that is gone."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
