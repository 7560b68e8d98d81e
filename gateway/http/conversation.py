"""Stepping a sans-IO handler: the part of running one that does not depend on the I/O style."""
import inspect


class Conversation:
    """`step` is what the handler waits for (an RpcCall, a list of them, or None when done);
    `feed` resumes it with the outcome; `response` is what it returned."""

    def __init__(self, result):
        self.step, self.response = None, None
        if inspect.isgenerator(result):
            self._generator = result
            self._resume(lambda: next(result))
        else:  # a handler that needs no RPC
            self.response = result

    def feed(self, value=None, error=None):
        if error is not None:
            self._resume(lambda: self._generator.throw(error))
        else:
            self._resume(lambda: self._generator.send(value))

    def _resume(self, resume):
        try:
            self.step = resume()
        except StopIteration as stop:
            self.step, self.response = None, stop.value
