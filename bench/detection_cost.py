"""What faster failure detection costs when nothing fails: the CPU an idle ASGI RPC client spends
on heartbeats and node watches, per second, as shipped and with the old settings.

    python -m bench.detection_cost [--seconds 60] [--nodes 3]

Each variant runs in a process of its own, connected to the same broker `--nodes` times over (as a
cluster's nodes), and idles; CPU per second divided by a gateway's requests per second is its
cost per request."""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time

from devstack.isolation import vhost_uri
from devstack.rabbitmq import create_vhost, delete_vhost

VARIANTS = {
    "shipped: heartbeat 2 s, a watch per node": {"heartbeat": 2, "watch": True},
    "before: heartbeat 10 s, no watch": {"heartbeat": 10, "watch": False},
}


async def _idle(uri, nodes, heartbeat, watch, seconds):
    from gateway.rpc import asyncio_client
    from gateway.rpc.asyncio_client import AsyncRpcClient

    amqp = ";".join([uri] * nodes)
    if not watch:
        asyncio_client.NodeWatch = _NoWatch
    client = AsyncRpcClient(amqp, heartbeat=heartbeat)
    await client.start()
    assert await client.wait_connected(10)
    await asyncio.sleep(2)  # set-up done
    started_cpu, started = time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    cpu, wall = time.process_time() - started_cpu, time.monotonic() - started
    await client.close()
    return cpu / wall


class _NoWatch:
    def __init__(self, nodes, on_down, on_up):
        self.up = [True] * len(nodes)

    def start(self):
        pass

    async def close(self):
        pass


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.detection_cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--broker", default=os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672"))
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.variant:  # the child: one variant, its CPU seconds per second on stdout
        variant = VARIANTS[options.variant]
        print(json.dumps(asyncio.run(_idle(options.broker, options.nodes, seconds=options.seconds, **variant))))
        return
    vhost = create_vhost(f"travel-detection-cost-{os.getpid()}")
    try:
        for name in VARIANTS:
            command = [
                sys.executable,
                "-m",
                "bench.detection_cost",
                "--variant",
                name,
                "--seconds",
                str(options.seconds),
            ]
            command += ["--nodes", str(options.nodes), "--broker", vhost_uri(options.broker, vhost)]
            out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            per_second = json.loads(out.strip().splitlines()[-1])
            print(
                f"{name}: {per_second * 1e6:,.0f} us of CPU per second idle "
                f"= {per_second * 1e6 / 2000:.2f} us per request at 2,000 requests/s"
            )
    finally:
        delete_vhost(vhost)


if __name__ == "__main__":
    main()
