import pytest

from tests.conftest import REDIS_URI, amqp_uri
from tests.support import broker
from tests.support.private import Certificates, RabbitNode
from tests.support.processes import nameko_run, start_gateway, wait_for_services, worker_env

SERVICES = ["airports_service", "trips_service", "greeting_service"]


class DrillStack:
    """Workers (as many `nameko run` instances as asked) and gateways, on the AMQP and Redis given."""

    def __init__(
        self,
        amqp,
        redis_uri,
        prefix,
        *,
        instances=1,
        gateways=("asgi",),
        modules=None,
        services=SERVICES,
        worker_extra=None,
        gateway_extra=None,
        amqp_ssl=None,
    ):
        self.amqp, self.redis_uri, self.prefix = amqp, redis_uri, prefix
        self.worker_extra, self.gateway_extra = worker_extra or {}, gateway_extra or {}
        self.modules = modules
        self.workers, self.gateways = [], {}
        try:
            for _ in range(instances):
                self.add_worker()
            wait_for_services(amqp, services, self.workers[0], ssl=amqp_ssl)
            for kind in gateways:
                self.add_gateway(kind)
        except BaseException:
            self.close()
            raise

    def worker_env(self):
        return worker_env(self.amqp, self.redis_uri, self.prefix, **self.worker_extra)

    def add_worker(self):
        kwargs = {"modules": self.modules} if self.modules else {}
        process = nameko_run(self.worker_env(), name=f"workers-{len(self.workers)}", **kwargs)
        self.workers.append(process)
        return process

    def add_gateway(self, kind):
        env = {**self.worker_env(), "LOG_LEVEL": "WARNING", **{k: str(v) for k, v in self.gateway_extra.items()}}
        process, url = start_gateway(kind, env)
        self.gateways[kind] = (process, url)
        return url

    def url(self, kind="asgi"):
        return self.gateways[kind][1]

    def close(self):
        for process, _ in self.gateways.values():
            process.close()
        for process in self.workers:
            process.kill()
            process.close()


@pytest.fixture
def drill_stack(redis_prefix):
    """drill_stack(**options): a DrillStack on a vhost of its own, closed after the test."""
    made, vhosts = [], []

    def make(amqp=None, redis_uri=REDIS_URI, **options):
        if amqp is None:
            vhosts.append(broker.create_vhost("travel-test-drill"))
            amqp = amqp_uri(vhosts[-1])
        made.append(DrillStack(amqp, redis_uri, f"{redis_prefix}drill-{len(made)}:", **options))
        return made[-1]

    yield make
    for stack in made:
        stack.close()
    for vhost in vhosts:
        broker.delete_vhost(vhost)


@pytest.fixture(scope="session")
def certificates():
    made = Certificates()
    yield made
    made.close()


@pytest.fixture(scope="session")
def rabbit(certificates):
    """A RabbitMQ node of the drills' own (AMQP and AMQPS ports), to stop and start at will."""
    node = RabbitNode(tls=certificates).start()
    yield node
    node.close()
