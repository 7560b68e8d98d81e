"""The private attributes of libraries the project uses (tests/support/private.py) still exist in the
versions installed: an upgrade that renames one fails here, not quietly in production."""

import importlib
import inspect

import pytest

from tests.support.private import LIBRARY_PRIVATES


@pytest.mark.parametrize(("module", "cls", "attribute"), LIBRARY_PRIVATES)
def test_a_private_attribute_we_use_is_still_there(module, cls, attribute):
    owner = getattr(importlib.import_module(module), cls)
    source = "".join(
        inspect.getsource(klass) for klass in owner.__mro__ if klass.__module__.startswith(module.split(".")[0])
    )
    assert hasattr(owner, attribute) or f"self.{attribute}" in source, f"{module}.{cls}.{attribute}"
