"""The article's experiments: greeting_service with `sleep` added, optionally as "version 2".

GREETING_DELAY (seconds, default 0.5) and GREETING_VERSION ("2" adds the article's suffix).
"""

import os
from time import sleep

from nameko.rpc import rpc

DELAY = float(os.environ.get("GREETING_DELAY", "0.5"))
SUFFIX = " (version 2)" if os.environ.get("GREETING_VERSION") == "2" else ""


class GreetingService:
    name = "greeting_service"

    @rpc
    def hello(self, name):
        sleep(DELAY)  # blocking, as in the article: `nameko run` makes it yield
        return f"Hello, {name}!{SUFFIX}"
