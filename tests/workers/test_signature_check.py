"""The entrypoint's quick signature check (workers/runtime/entrypoint.py `fits`) accepts exactly the
calls `inspect.Signature.bind` accepts, for every method the services expose and for each shape of
plain parameter list; a call it refuses still gets bind's error message."""

import inspect
import itertools

import pytest
from nameko.exceptions import IncorrectSignature
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR

from workers.airports.service import AirportsService
from workers.greeting.service import GreetingService
from workers.runtime.entrypoint import Rpc, fits
from workers.trips.service import TripsService

pytestmark = pytest.mark.fast


def no_parameters(self): ...
def one_required(self, a): ...
def two_optional(self, a, b=None, c=None): ...
def mixed(self, a, b, c=1, d=2): ...


def entrypoint_methods():
    for service in (AirportsService, TripsService, GreetingService):
        for name, method in inspect.getmembers(service, inspect.isfunction):
            if any(isinstance(e, Rpc) for e in getattr(method, ENTRYPOINT_EXTENSIONS_ATTR, ())):
                yield pytest.param(method, id=f"{service.name}.{name}")


def calls(names):
    """Every call of 0-4 positional arguments and up to three keywords, the method's own names and
    one it does not have among them."""
    words = [*names, "unknown"]
    for count in range(5):
        for keys in itertools.chain.from_iterable(itertools.combinations(words, k) for k in range(4)):
            yield tuple(range(count)), dict.fromkeys(keys, 1)


@pytest.mark.parametrize("method", [*entrypoint_methods(), no_parameters, one_required, two_optional, mixed])
def test_the_quick_check_agrees_with_signature_bind(method):
    signature = inspect.signature(method)
    parameters = list(signature.parameters.values())[1:]
    names = tuple(p.name for p in parameters)
    required = sum(p.default is p.empty for p in parameters)
    assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in parameters)  # else the entrypoint binds
    for args, kwargs in calls(names):
        try:
            signature.bind(None, *args, **kwargs)
            accepted = True
        except TypeError:
            accepted = False
        assert fits(names, required, args, kwargs) is accepted, (args, kwargs)


def test_a_refused_call_gets_binds_message():
    entrypoint = object.__new__(Rpc)  # what setup() leaves for check_signature, without a container
    entrypoint._signature = inspect.signature(GreetingService.hello)
    entrypoint._names, entrypoint._required = ("name",), 1
    entrypoint.check_signature((), {"name": "x"})
    with pytest.raises(IncorrectSignature, match="missing a required argument: 'name'"):
        entrypoint.check_signature((), {})
    with pytest.raises(IncorrectSignature, match="unexpected keyword argument 'nome'"):
        entrypoint.check_signature(("x",), {"nome": "x"})
