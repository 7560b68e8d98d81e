"""The route table: every operation the gateway serves. The ASGI app, the WSGI app and the
OpenAPI document are all built from this one list."""

from itertools import groupby

from gateway.resources import airports, health, legacy, metrics, trips

API = [*airports.OPERATIONS, *trips.OPERATIONS, *legacy.OPERATIONS, *health.OPERATIONS, *metrics.OPERATIONS]


def all_routes(auth=False):
    """The API, and the routes that serve its description (built from it, saying whether this
    gateway asks for a bearer token)."""
    from gateway.openapi import build_document
    from gateway.resources import docs

    return API + docs.operations(build_document(API, auth=auth))


def by_path(operations):
    """[(path, [operations on it])], for Falcon's add_route."""
    ordered = sorted(operations, key=lambda op: op.path)
    return [(path, list(ops)) for path, ops in groupby(ordered, key=lambda op: op.path)]
