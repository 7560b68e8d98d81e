import pytest

from tests.support import node


@pytest.fixture(scope="session")
def node_project():
    """tests/openapi/node with its pinned npm packages installed."""
    return node.ensure_installed()
