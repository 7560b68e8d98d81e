"""`python -m devstack run`: the whole system in the foreground, as `scripts/run` starts it.

The three services in one `nameko run` (the article's layout) and the gateway chosen by GATEWAY
(`asgi`, or `wsgi` with WSGI_SERVER `uvicorn`, `gunicorn` or `waitress`) on HOST:PORT (HOST
127.0.0.1 unless set: nothing is open to the network by default), with the environment
as given (AMQP_URI, REDIS_URI and the rest: README, "Configuration"). Ctrl+C (or SIGTERM) stops
everything; whichever process exits first takes the others down with it.
"""

import argparse
import os
import signal
import sys

from devstack.stack import Stack


def gateway_kind(environ):
    gateway, server = environ.get("GATEWAY", "asgi"), environ.get("WSGI_SERVER", "uvicorn")
    if gateway == "asgi":
        return "asgi"
    if gateway != "wsgi":
        raise SystemExit("GATEWAY must be asgi or wsgi")
    if server not in ("uvicorn", "gunicorn", "waitress"):
        raise SystemExit("WSGI_SERVER must be uvicorn, gunicorn or waitress")
    return "wsgi" if server == "uvicorn" else server


def run(environ):
    kind = gateway_kind(environ)
    host, port = environ.get("HOST", "127.0.0.1"), environ.get("PORT", "8000")
    stop = []
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda signum, frame: stop.append(signum))
    env = dict(environ)
    say("workers: nameko run --config workers/config.yml workers.airports workers.trips workers.greeting")
    say(f"gateway ({kind}) on http://{host}:{port} (API documentation: /docs)")
    with Stack(env, env, gateways=[(kind, host, port)], echo=True) as stack:
        exited = stack.wait(lambda: bool(stop))
        if exited is not None:
            say(f"{exited.name} exited ({exited.popen.returncode}); stopping the rest")
    return 0 if stop or exited is None else 1


def say(message):
    print(f"==> {message}", file=sys.stderr, flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["run"])
    parser.parse_args(argv)
    return run(os.environ)


if __name__ == "__main__":
    sys.exit(main())
