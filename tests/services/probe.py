"""A service that tells its caller what context reached it (request id, call id stack)."""

from nameko.extensions import DependencyProvider
from nameko.rpc import rpc


class WorkerContext(DependencyProvider):
    def get_dependency(self, worker_ctx):
        return worker_ctx


class ProbeService:
    name = "probe_service"
    worker_ctx = WorkerContext()

    @rpc
    def context(self):
        return {"data": self.worker_ctx.data, "call_id_stack": self.worker_ctx.call_id_stack}

    @rpc
    def echo(self, value):
        return value

    @rpc
    def health(self):
        return {}
