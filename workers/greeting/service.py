"""greeting_service: the article's first service, unchanged in behaviour."""

from workers.common.metrics import Metrics
from workers.runtime import IncomingCallProvider, rpc


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
