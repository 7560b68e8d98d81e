"""Which broker nodes answer, known within about two seconds of one going silent.

A killed node resets its sockets and every client hears of it at once; a frozen or cut-off one says
nothing, and its kernel may still accept TCP connections. So the watch holds one AMQP connection of
its own to each node, with a one-second heartbeat: a node silent for two seconds is down
(`on_down(index)`), and is up again once a new connection completes the AMQP handshake within
CONNECT_TIMEOUT (`on_up(index)`). Costs one idle connection and a heartbeat frame a second per node.
"""

import asyncio
import dataclasses
import logging

from gateway.rpc.amqp import AmqpConnection

log = logging.getLogger(__name__)

HEARTBEAT = 1  # seconds: a watch connection is dropped after two of silence (amqp.AmqpConnection._beat)
CONNECT_TIMEOUT = 1.0
RETRY_INTERVAL = 0.5


class NodeWatch:
    def __init__(self, nodes, on_down, on_up):
        self.nodes = [
            dataclasses.replace(
                node,
                heartbeat=HEARTBEAT,
                connect_timeout=CONNECT_TIMEOUT,
                confirms=False,
                connection_name=f"{node.connection_name} (watch)",
            )
            for node in nodes
        ]
        self.on_down, self.on_up = on_down, on_up
        self.up = [True] * len(nodes)  # until a node is found silent, it is given the benefit of the doubt
        self._tasks = []

    def start(self):
        self._tasks = [
            asyncio.create_task(self._watch(index), name=f"amqp-node-watch-{index}") for index in range(len(self.nodes))
        ]

    async def close(self):
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _watch(self, index):
        node = self.nodes[index]
        while True:
            lost = asyncio.Event()
            try:
                connection = await AmqpConnection.open(node, _ignore, _ignore, lambda exc, lost=lost: lost.set(), None)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._mark(index, False, f"{exc!r}")
                await asyncio.sleep(RETRY_INTERVAL)
                continue
            self._mark(index, True, "it answers")
            try:
                await lost.wait()
            finally:
                connection.close()
            self._mark(index, False, "silent or gone")

    def _mark(self, index, up, why):
        if self.up[index] == up:
            return
        self.up[index] = up
        node = self.nodes[index]
        log.warning("broker node %s:%d is %s (%s)", node.host, node.port, "up" if up else "down", why)
        try:
            (self.on_up if up else self.on_down)(index)
        except Exception:  # a watch that died would leave the client deaf to silent nodes
            log.exception("handling broker node %s:%d going %s failed", node.host, node.port, "up" if up else "down")


def _ignore(*args):
    pass
