"""The WSGI pool's links (blocking_link.py), spread over the broker nodes: checked out by one call
at a time, bounded, handed to waiting calls first come first served (proxy_pool.py says why).

A new link goes to the node up with the fewest. A link per node up is kept as a standby, made by
the node watch's thread after each round rather than by a call: a silent RabbitMQ node can stall
new connections to every node of its cluster until the cluster notices it (measured on 3.10:
about 60 s, net_ticktime), so what serves meanwhile is the links already open on the others.
For the same reason no new link is made for NEW_LINK_PAUSE after a node goes silent, nor to a
node that did not take one in CONNECT_TIMEOUT (for twice as long after each such failure in a
row, up to a minute): calls wait for the links there are. Such a node is then on trial: the
watch's thread tries a link there after each pause, and calls make links there again once one
is made.
"""

import logging
import threading
import time
from collections import deque

from amqp.exceptions import AMQPError

from gateway.metrics import POOL_WAITING, pool_events, pool_proxies
from gateway.rpc.blocking_link import Link
from gateway.rpc.calls import NotConnected, Overloaded, RpcTimeout

log = logging.getLogger(__name__)

BROKEN = (OSError, AMQPError)  # a link's connection failed (read timeouts are OSErrors too)
CONNECT_TIMEOUT = 1.0  # TCP connect and AMQP handshake of a new link, each read
NEW_LINK_PAUSE = 5.0  # no new link to a node that did not take one, nor to any after a node went silent
LONGEST_PAUSE = 60.0  # (the pause doubles after each failure in a row)


class PoolExhausted(Overloaded):
    """Every link stayed busy for the whole checkout timeout."""


class _Waiter:
    """A thread waiting for a link: handed one (`link`), or woken to look again."""

    __slots__ = ("event", "link")

    def __init__(self):
        self.event, self.link = threading.Event(), None


class LinkPool:
    """At most `size` links to `nodes`; `watch` (a NodeWatch, set by the owner) says which are up."""

    def __init__(self, nodes, exchange, *, size, checkout_timeout, max_age):
        self.nodes, self.exchange = nodes, exchange
        self.size, self.checkout_timeout, self.max_age = size, checkout_timeout, max_age
        self.watch = None
        self._idle = deque()  # most recently used last: reuse warm links first
        self._waiters = deque()  # first come, first served: a returned link goes to the longest waiter
        self._members = 0  # links in existence or being made: idle + checked out + connecting
        self._on_node = [0] * len(nodes)  # the same, per node
        self._no_new_links_until = [0.0] * len(nodes)  # per node (monotonic): see _make
        self._next_pause = [NEW_LINK_PAUSE] * len(nodes)
        self._on_trial = [False] * len(nodes)  # paused before: only keep_standby tries a new link
        self._lock = threading.Lock()
        self._closed = False
        self.created = self.stopped = self.exhausted = 0

    def stats(self):
        with self._lock:
            return {
                "size": self.size,
                "members": self._members,
                "idle": len(self._idle),
                "waiting": len(self._waiters),
                "created": self.created,
                "stopped": self.stopped,
                "exhausted": self.exhausted,
            }

    def node_up(self, index):
        self._no_new_links_until[index] = 0.0  # it took the watch's new connection
        self._next_pause[index], self._on_trial[index] = NEW_LINK_PAUSE, False

    def node_down(self, index, silent):
        """Drop the idle links on node `index`; after a silent node, make no new link for a while."""
        if silent:  # the others may stall new connections until the cluster notices (above)
            self._no_new_links_until = [time.monotonic() + NEW_LINK_PAUSE] * len(self.nodes)
            self._on_trial = [True] * len(self.nodes)
        with self._lock:
            gone = [link for link in self._idle if link.index == index]
            for link in gone:
                self._idle.remove(link)
                self._forget(link)
            self._members -= len(gone)  # idle: no waiter needs their places
            self._publish()
        for link in gone:
            link.drop()

    def checkout(self, deadline, patient=False):
        """A link on a node that is up: an idle one, a new one, or one checked in by another call
        within the checkout timeout (until `deadline` if `patient`: just after a node was lost,
        when the links left are few and slow for a while, which is not an overload). NotConnected
        at once while no node is up (or none takes new connections and the pool has no link to
        wait for)."""
        wait_for = float("inf") if patient else self.checkout_timeout
        give_up = min(deadline, time.monotonic() + wait_for)
        while True:
            if self._closed:
                raise NotConnected("The gateway is shutting down.")
            if not any(self.watch.up):
                raise NotConnected("The broker is unreachable.")
            link = waiter = index = None
            with self._lock:
                if self._idle and not self._waiters:
                    link = self._idle.pop()
                else:
                    index = self._node_for_a_new_link() if self._members < self.size else None
                    if index is not None:
                        self._members += 1
                        self._on_node[index] += 1
                    elif not self._members:
                        raise NotConnected("No broker node takes new connections.")
                    else:
                        waiter = _Waiter()
                        self._waiters.append(waiter)
                self._publish()
            if waiter is not None:
                link = self._wait_for_a_link(waiter, give_up, deadline)
            elif index is not None:
                link = self._make(index, deadline)
                if link is None:  # the time that took was not spent waiting for a link
                    give_up = min(deadline, time.monotonic() + wait_for)
            if link is not None:
                if self.watch.up[link.index]:
                    return link
                self.discard(link, clean=False)

    def _node_for_a_new_link(self):
        """Of the nodes up and taking new links, the one with the fewest (None if none is). A call
        never tries a node on trial: keep_standby does, so that no call waits for its handshake."""
        now = time.monotonic()
        ready = [
            i
            for i, up in enumerate(self.watch.up)
            if up and not self._on_trial[i] and now >= self._no_new_links_until[i]
        ]
        return min(ready, key=lambda i: self._on_node[i]) if ready else None

    def _wait_for_a_link(self, waiter, give_up, deadline):
        """The link another call handed over, or None when woken to look again (a place freed)."""
        if not waiter.event.wait(max(0.0, give_up - time.monotonic())):
            with self._lock:
                if waiter.link is None and waiter in self._waiters:
                    self._waiters.remove(waiter)  # nothing came: give up the place
                    self._publish()
                    if give_up >= deadline:
                        raise RpcTimeout("The service did not answer in time.")
                    self._count("exhausted")
                    raise PoolExhausted("No RPC proxy became free in time.")
        return waiter.link

    def _make(self, index, deadline):
        """A new link to node `index`, in the place the caller holds; None if the node does not
        take it in time (no new link goes there for a while, and the caller looks again)."""
        timeout = min(CONNECT_TIMEOUT, deadline - time.monotonic())
        try:
            if timeout <= 0:
                raise RpcTimeout("The service did not answer in time.")
            link = Link(self.nodes[index], index, self.exchange, timeout)
        except BaseException as exc:
            with self._lock:
                self._on_node[index] -= 1
                self._free_place()
            if not isinstance(exc, BROKEN):
                raise
            log.warning("cannot connect to broker node %s: %r", self.nodes[index], exc)
            self._no_new_links_until[index] = time.monotonic() + self._next_pause[index]
            self._next_pause[index] = min(2 * self._next_pause[index], LONGEST_PAUSE)
            self._on_trial[index] = True
            if isinstance(exc, ConnectionRefusedError):  # it is down, surely: no need to wait for the watch
                self.watch.saw_down(index)
            return None
        self._next_pause[index], self._on_trial[index] = NEW_LINK_PAUSE, False
        self._no_new_links_until[index] = 0.0
        with self._lock:
            self._count("created")
        return link

    def keep_standby(self):
        """After each round of the watch, a link made here rather than by a call: on each node up
        that has none (so that a node lost leaves links up on the others: a silent node can stall
        new connections to the whole cluster until the cluster notices it, above), and on each
        node on trial whose pause is over (the first link it takes ends the trial)."""
        for index, up in enumerate(self.watch.up):
            with self._lock:
                wanted = self._on_trial[index] or not self._on_node[index]
                if self._closed or self._members >= self.size:
                    return
                if not (up and wanted and time.monotonic() >= self._no_new_links_until[index]):
                    continue
                self._members += 1
                self._on_node[index] += 1
            link = self._make(index, time.monotonic() + CONNECT_TIMEOUT)
            if link is not None:
                self.checkin(link)

    def checkin(self, link):
        if self.max_age and time.monotonic() - link.born > self.max_age:
            self.discard(link, clean=True)
            return
        if not self.watch.up[link.index]:
            self.discard(link, clean=False)
            return
        with self._lock:
            if not self._closed:
                if self._waiters:
                    waiter = self._waiters.popleft()
                    waiter.link = link
                    waiter.event.set()
                else:
                    self._idle.append(link)
                self._publish()
                return
        self.discard(link, clean=True)

    def discard(self, link, clean):
        """Stop a link that is checked out: closed cleanly, or dropped when its node may be silent."""
        with self._lock:
            self._forget(link)
            self._free_place()
        link.close() if clean else link.drop()

    def _forget(self, link):
        """Count a link out (with the lock held); its place is freed by the caller."""
        self._on_node[link.index] -= 1
        self._count("stopped")

    def _free_place(self):
        """A link is gone (or was never made): one place fewer, and the longest waiter looks again
        (it may make one). With the lock held."""
        self._members -= 1
        if self._waiters:
            self._waiters.popleft().event.set()
        self._publish()

    def _count(self, event, n=1):
        setattr(self, event, getattr(self, event) + n)
        pool_events(event).inc(n)

    def _publish(self):
        """Export the pool's state (called with the lock held, after each change)."""
        pool_proxies("idle").set(len(self._idle))
        pool_proxies("busy").set(self._members - len(self._idle))
        POOL_WAITING.set(len(self._waiters))

    def close(self):
        """Stop every idle link now, and each busy one as it comes back."""
        with self._lock:
            self._closed = True
            waiters, self._waiters = list(self._waiters), deque()
            idle, self._idle = list(self._idle), deque()
            for link in idle:
                self._forget(link)
            self._members -= len(idle)
            self._publish()
        for waiter in waiters:  # woken with neither a link nor a place: they leave
            waiter.event.set()
        for link in idle:
            link.close()
