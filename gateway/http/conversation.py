"""Stepping a sans-IO handler: the part of running one that does not depend on the I/O style."""

import inspect


class Conversation:
    """`step` is what the handler waits for (an RpcCall, a list of them, or None when done);
    `feed` resumes it with the outcome; `response` is what it returned."""

    __slots__ = ("step", "response", "_generator")

    def __init__(self, result):
        self.step = self.response = None
        if inspect.isgenerator(result):
            self._generator = result
            self.feed()
        else:  # a handler that needs no RPC
            self.response = result

    def feed(self, value=None, error=None):
        try:
            self.step = self._generator.send(value) if error is None else self._generator.throw(error)
        except StopIteration as stop:
            self.step, self.response = None, stop.value
