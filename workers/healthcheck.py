"""Exit 0 when every named service answers `health()` within the timeout, else 1: a container
healthcheck or Kubernetes exec probe for workers. `python -m workers.healthcheck airports_service`.

Reads AMQP_URI (one broker, or a cluster's nodes separated by `;`: kombu fails over among them)
and AMQP_SSL (a YAML mapping of TLS options, applied to each amqps:// URI) like the workers do."""

import argparse
import os
import sys

import yaml
from nameko.standalone.rpc import ClusterRpcProxy


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("services", nargs="+", help="e.g. airports_service trips_service")
    parser.add_argument("--timeout", type=float, default=3.0)
    args = parser.parse_args(argv)
    config = {"AMQP_URI": os.environ.get("AMQP_URI", "amqp://guest:guest@localhost:5672/")}
    if os.environ.get("AMQP_SSL"):
        config["AMQP_SSL"] = yaml.safe_load(os.environ["AMQP_SSL"])
    try:
        with ClusterRpcProxy(config, timeout=args.timeout) as rpc:
            for service in args.services:
                rpc[service].health()
    except Exception as exc:
        print(f"unhealthy: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
