"""The gateway kinds and the command line of each: one place, so that scripts/run, the tests, the
drills and bench run the gateway the same way (bench's tuned variants are options it names).

Both gateways ship on uvicorn with the gateway's own HTTP protocol (gateway/protocol.py: request
limits and a read deadline): `asgi`, and `wsgi`, the WSGI app on THREADS threads behind it
(gateway/wsgi_asgi.py). `gunicorn` (gthread) and `waitress` serve the same WSGI app, as options."""

from devstack.processes import BIN, ROOT
from gateway.settings import Settings

KINDS = ("asgi", "wsgi", "gunicorn", "waitress")
APPS = {"asgi": "gateway.asgi:app", "wsgi": "gateway.wsgi_asgi:app"}
PROTOCOL = "gateway.protocol:BoundedHttpProtocol"


def uvicorn_command(app, port, host="127.0.0.1", processes=None, quiet=False, access_log=False):
    """uvicorn serving `app`, as the README runs the ASGI gateway: the gateway writes its own access
    log; on SIGTERM requests in flight get 10 s to finish. uvloop and httptools are what uvicorn
    picks when installed (they are dependencies); named here so a run says what it measured. Every
    app but bench's peers (bench/peers/, run as they ship) gets the gateway's protocol instead of
    uvicorn's plain httptools one. `access_log`: uvicorn's own access line per request, as it
    ships (for an app writing none)."""
    protocol = "httptools" if app.startswith("bench.peers.") else PROTOCOL
    argv = [BIN / "uvicorn", app, "--host", host, "--port", port, "--loop", "uvloop", "--http", protocol]
    argv += [] if access_log else ["--no-access-log"]
    argv += ["--timeout-graceful-shutdown", 10]
    if processes:  # else uvicorn's own default (WEB_CONCURRENCY, or 1)
        argv += ["--workers", processes]
    if quiet:
        argv += ["--log-level", "warning"]
    return [str(a) for a in argv]


def gateway_command(kind, port, host="127.0.0.1", processes=None, threads=None, quiet=False):
    """The command line of the gateway `kind` on host:port. `processes` and `threads`: the
    server's (default: WEB_CONCURRENCY and THREADS, as the servers and gunicorn.conf.py read them);
    `quiet`: the server's own log at WARNING."""
    if kind in APPS:
        argv = uvicorn_command(APPS[kind], port, host, processes, quiet)
        # the WSGI app's threads (and proxies) are THREADS: uvicorn has no option for them
        return ["env", f"THREADS={threads}", *argv] if threads and kind == "wsgi" else argv
    if kind == "gunicorn":
        argv = [BIN / "gunicorn", "-c", ROOT / "gateway" / "gunicorn.conf.py", "-b", f"{host}:{port}"]
        if processes:
            argv += ["--workers", processes]
        if threads:
            argv += ["--threads", threads]
        if quiet:
            argv += ["--log-level", "warning"]
        return [str(a) for a in [*argv, "gateway.wsgi:app"]]
    if kind == "waitress":
        # waitress reads no THREADS of its own: the gateway's setting (its default too), as the pool sizes
        threads = threads or Settings.from_env().server_threads
        argv = [BIN / "waitress-serve", "--listen", f"{host}:{port}", "--threads", threads, "gateway.wsgi:app"]
        return [str(a) for a in argv]
    raise ValueError(f"gateway kind {kind!r} is none of {', '.join(KINDS)}")
