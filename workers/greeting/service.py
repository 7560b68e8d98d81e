"""greeting_service: the article's first service, unchanged in behaviour."""

from workers.common.context import IncomingCallProvider
from workers.common.entrypoint import rpc
from workers.common.metrics import Metrics


class GreetingService:
    name = "greeting_service"

    incoming = IncomingCallProvider()
    metrics = Metrics()

    @rpc
    def hello(self, name):
        return f"Hello, {name}!"

    @rpc
    def health(self):
        return {}
