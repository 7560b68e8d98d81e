"""The WSGI gateway's RPC client: a bounded pool of blocking AMQP links (blocking_link.py), each
checked out by one thread for one call, over the broker nodes AMQP_URI lists (`uri1;uri2;...`).
It speaks nameko's wire protocol itself, as the ASGI client does, not through ClusterRpcProxy
(why: docs/design.md, "The WSGI gateway").

* bounded (link_pool.py): at most `size` links; past `checkout_timeout`, PoolExhausted (503),
  except within UNSETTLED_FOR of a node's loss, when a call waits for a link until its deadline;
* one deadline covers the wait for a link, making one, the call and every copy of it;
* nodes watched (blocking_node_watch.py): a refusing, reset or silent node is down within 1.6 s;
  while no node is up, new calls fail at once (NotConnected, 503);
* a call whose link breaks, or whose node goes down, is published again with the same
  correlation id on a link to a node that is up; for UNSETTLED_FOR seconds after a loss, a call
  unanswered RESEND_EVERY after it went out gets a copy each RESEND_EVERY, a nack then meaning
  "send again";
* replies are matched by correlation id, so a late one is dropped and its link survives; links
  older than `max_age` are recycled.

The details and the drills' figures: docs/design.md, "The WSGI gateway" and "The WSGI pool sends
a call again too".
"""

import logging
import time
from random import getrandbits

import orjson

from gateway.metrics import REPUBLISHED
from gateway.rpc.asyncio_client import RESEND_EVERY, UNSETTLED_FOR, decode_reply
from gateway.rpc.base import BaseRpcClient
from gateway.rpc.blocking_link import Node, Refused, Returned
from gateway.rpc.blocking_node_watch import NodeWatch
from gateway.rpc.calls import QueueFull, RpcError, RpcTimeout, UnknownService
from gateway.rpc.link_pool import BROKEN, LinkPool, PoolExhausted
from gateway.settings import split_uris
from gateway.tracing import ENABLED as TRACING
from gateway.tracing import trace_headers

log = logging.getLogger(__name__)

CHECK_EVERY = 0.25  # a waiting call looks at its node's state (and its copies) this often
__all__ = ["PoolExhausted", "ProxyPool"]  # PoolExhausted: link_pool.py's, raised through here


class _LinkLost(Exception):
    """The call's link broke or its node went silent: the link is gone, the call goes elsewhere."""


class ProxyPool(BaseRpcClient):
    def __init__(self, config, *, size=8, timeout=10.0, checkout_timeout=1.0, max_age=0.0):
        exchange = config.get("rpc_exchange", "nameko-rpc")
        self.nodes = [Node.from_uri(uri, config.get("AMQP_SSL")) for uri in split_uris(config["AMQP_URI"])]
        self.timeout = timeout
        self.links = LinkPool(self.nodes, exchange, size=size, checkout_timeout=checkout_timeout, max_age=max_age)
        self._closed = False
        self._unsettled_until = float("-inf")
        self.republished = 0  # calls sent again on another link, theirs lost
        self.resent = self.channels_renewed = 0  # copies in the unsettled window, and fresh channels for them
        self.watch = self.links.watch = NodeWatch(self.nodes, self._node_changed, on_round=self.links.keep_standby)

    @classmethod
    def from_settings(cls, settings):
        config = {"AMQP_URI": settings.amqp_uri, "rpc_exchange": settings.rpc_exchange}
        if settings.amqp_tls:
            config["AMQP_SSL"] = settings.nameko_ssl()
        return cls(
            config,
            size=settings.proxies,
            timeout=settings.rpc_timeout,
            checkout_timeout=settings.rpc_checkout_timeout,
            max_age=settings.rpc_proxy_max_age,
        )

    @property
    def connected(self):
        """Whether any node answered its last probe (readiness also calls the services)."""
        return not self._closed and any(self.watch.up)

    def stats(self):
        return {
            **self.links.stats(),
            "republished": self.republished,
            "resent": self.resent,
            "channels_renewed": self.channels_renewed,
            "nodes_up": sum(self.watch.up),
            "probes": self.watch.probes,
        }

    # -- nodes ------------------------------------------------------------------

    def _node_changed(self, index, up, silent=False):
        node = self.nodes[index]
        if up:
            log.info("broker node %s answers again", node)
            self.links.node_up(index)
            return
        log.warning("broker node %s does not answer; its calls go to another node", node)
        self._unsettle()
        self.links.node_down(index, silent)

    def _unsettle(self):
        now = time.monotonic()
        if now >= self._unsettled_until:
            log.info("calls unanswered after %.0f s are sent again for %.0f s", RESEND_EVERY, UNSETTLED_FOR)
        self._unsettled_until = now + UNSETTLED_FOR

    def _unsettled(self):
        """Within UNSETTLED_FOR of a node's loss: calls wait for a link until their deadline."""
        return time.monotonic() < self._unsettled_until

    # -- calls ------------------------------------------------------------------

    def call(self, rpc_call, caller):
        deadline = time.monotonic() + (rpc_call.timeout or self.timeout)
        correlation_id = f"{getrandbits(128):032x}"
        headers = {
            "nameko.request_id": caller.request_id,
            "nameko.call_id_stack": [f"gateway.{caller.operation}.{correlation_id}"],
        }
        if TRACING:  # the RPC span's context, beside nameko's (gateway/tracing.py)
            trace_headers(headers)
        request = (
            correlation_id,
            f"{rpc_call.service}.{rpc_call.method}",
            orjson.dumps({"args": [], "kwargs": rpc_call.kwargs}),
            headers,
        )
        link = self.links.checkout(deadline, patient=self._unsettled())
        try:
            while True:
                try:
                    body = self._call_on(link, request, deadline)
                    break
                except _LinkLost:
                    link = None
                    link = self.links.checkout(deadline, patient=True)
                    self.republished += 1
                    REPUBLISHED.inc()
        except RpcError:  # the link (if any) is fine: its call timed out, or was refused or returned
            raise
        except BaseException:  # anything else: the link's state is unknown
            if link is not None:
                self.links.discard(link, clean=False)
                link = None
            raise
        finally:
            if link is not None:
                self.links.checkin(link)
        return decode_reply(body)

    def _call_on(self, link, request, deadline):
        """Publish `request` on `link` and wait for its reply: its body. Raises RpcTimeout,
        UnknownService or QueueFull (the link stays fine), or _LinkLost (the link is gone)."""
        correlation_id, routing_key, body, headers = request
        try:
            link.publish(correlation_id, routing_key, body, headers, deadline - time.monotonic())
            resend_at = None
            while True:
                now = time.monotonic()
                if now >= deadline:
                    link.done()
                    raise RpcTimeout("The service did not answer in time.")
                if not self.watch.up[link.index]:
                    raise _LinkLost
                if not self._unsettled():
                    resend_at = None
                elif resend_at is None:
                    resend_at = now + RESEND_EVERY
                elif now >= resend_at:
                    self._send_copy(link, request, deadline - now)
                    resend_at = now + RESEND_EVERY
                wake = min(deadline, now + CHECK_EVERY, resend_at or deadline)
                try:
                    reply = link.wait(wake - now)
                except Refused:
                    if self._unsettled():  # a queue electing its leader
                        resend_at = time.monotonic()
                        continue
                    link.done()
                    raise QueueFull("The service's queue is full.") from None
                except Returned as exc:
                    link.done()
                    raise UnknownService(str(exc)) from None
                if reply is not None:
                    self.watch.heard[link.index] = time.monotonic()  # alive: no probe needed
                    return reply
        except (_LinkLost, *BROKEN) as exc:
            log.info("broker link to %s lost during a call (%s): sending it again", link.node, type(exc).__name__)
            self._unsettle()
            self.links.discard(link, clean=False)
            raise _LinkLost from None

    def _send_copy(self, link, request, remaining):
        correlation_id, routing_key, body, headers = request
        if time.monotonic() - link.publish_channel_opened >= RESEND_EVERY:
            link.renew_publish_channel()
            self.channels_renewed += 1
        link.publish(correlation_id, routing_key, body, headers, remaining)
        self.resent += 1
        REPUBLISHED.inc()

    def close(self):
        """Stop every idle link now, and each busy one as it comes back."""
        self._closed = True
        self.links.close()
        self.watch.close()
