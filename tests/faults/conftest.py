"""The faults group (`scripts/test --faults`, `pytest -m faults`): hosts of their own in network
namespaces (devstack.netns), faults on their links and processes (devstack.netfaults), and the
whole system on them (devstack.hosts). One run per machine at a time: the hosts have fixed names."""

import os
import shutil

import pytest


@pytest.fixture(autouse=True, scope="session")
def _as_root_with_the_tools():
    """Namespaces need root; iptables comes from scripts/test --faults (ensure_commands)."""
    if os.geteuid() != 0:
        pytest.skip("the faults tests make network namespaces: they need root")
    missing = [tool for tool in ("ip", "tc", "iptables", "rabbitmq-server", "redis-server") if not shutil.which(tool)]
    assert not missing, f"missing {missing}: scripts/test --faults installs them"
