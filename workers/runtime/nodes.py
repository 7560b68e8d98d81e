"""The broker nodes of a `;`-separated AMQP_URI, in the order this process tries them.

kombu fails over along the list, but every connection nameko makes starts again at its first
node: every instance piles onto node 1, and each reconnection after node 1 went silent first waits
out a connect timeout there. Here a process starts at a random node (instances spread over the
nodes), and a node that failed or fell silent goes to the back, so the next connection, of the
consumers and of the publishers alike, starts at a node that answered. The order is written back
into the service config's AMQP_URI, which nameko reads for every connection it makes (one config
is shared by the containers of a `nameko run`).
"""

import random

from nameko.constants import AMQP_URI_CONFIG_KEY

_known = {}  # every order an AMQP_URI took in this process -> its Nodes


class Nodes:
    def __init__(self, uri):
        uris = [part.strip() for part in uri.split(";") if part.strip()]
        start = random.randrange(len(uris)) if uris else 0
        self.uris = uris[start:] + uris[:start]

    @property
    def uri(self):
        return ";".join(self.uris)

    def failed(self, uri):
        """Move `uri` to the back of the order (it failed to connect, or went silent)."""
        if uri in self.uris and len(self.uris) > 1:
            self.uris.remove(uri)
            self.uris.append(uri)


def nodes_of(config):
    """The process's Nodes for the config's AMQP_URI; the config takes their order."""
    uri = config[AMQP_URI_CONFIG_KEY]
    nodes = _known.get(uri)
    if nodes is None:
        nodes = _known[uri] = Nodes(uri)
    _use_order(config, nodes)
    return nodes


def node_failed(config, uri):
    """Put `uri` last in the order of the config's nodes (and in the config)."""
    nodes = nodes_of(config)
    nodes.failed(uri)
    _use_order(config, nodes)


def _use_order(config, nodes):
    _known[nodes.uri] = nodes
    config[AMQP_URI_CONFIG_KEY] = nodes.uri
