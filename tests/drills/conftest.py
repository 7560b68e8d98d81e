import pytest

from tests.support.private import Certificates, RabbitNode


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
