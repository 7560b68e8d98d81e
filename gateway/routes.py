"""The route table: every path the gateway serves, and the handler of each method on it. The ASGI
app, the WSGI app and the OpenAPI document are all built from it; each path is written here once."""

from gateway.resources import airports, health, legacy, metrics, trips
from gateway.resources.docs import ApiDocs

ROUTES = {
    "/airports": {"POST": airports.create_airport, "GET": airports.list_airports},
    "/airports/{airport_id}": {
        "GET": airports.get_airport,
        "PATCH": airports.update_airport,
        "DELETE": airports.delete_airport,
    },
    "/airports/{airport_id}/trips": {"GET": trips.list_airport_trips},
    "/trips": {"POST": trips.create_trip, "GET": trips.list_trips},
    "/trips/{trip_id}": {"GET": trips.get_trip, "PATCH": trips.update_trip, "DELETE": trips.delete_trip},
    # the article's routes
    "/airport": {"POST": legacy.create_airport_legacy},
    "/airport/{airport_id}": {"GET": legacy.get_airport_legacy},
    "/trip": {"POST": legacy.create_trip_legacy},
    "/trip/{trip_id}": {"GET": legacy.get_trip_legacy},
    "/health/live": {"GET": health.get_liveness},
    "/health/ready": {"GET": health.get_readiness},
    "/metrics": {"GET": metrics.get_metrics},
}


def docs_routes(docs):
    """The routes of the root, the API description and its page, served by `docs` (an ApiDocs)."""
    return {
        "/": {"GET": docs.get_index},
        "/openapi.json": {"GET": docs.get_openapi_json},
        "/openapi.yaml": {"GET": docs.get_openapi_yaml},
        "/docs": {"GET": docs.get_docs},
        "/docs/{asset}": {"GET": docs.get_docs_asset},
    }


def bound(routes):
    """`routes` with each operation told its method and path (and a deprecated one, its successor's)."""
    table = {path: {method: op.at(method, path) for method, op in methods.items()} for path, methods in routes.items()}
    paths = {op.operation_id: op.path for methods in table.values() for op in methods.values()}
    return {path: {method: op.succeeded_at(paths) for method, op in methods.items()} for path, methods in table.items()}


API = [op for operations in bound(ROUTES).values() for op in operations.values()]
UNLIMITED_PATHS = frozenset(op.path for op in API if not op.rate_limited)  # RATE_LIMIT spares them


def served_routes(auth=False, metrics=True):
    """The route table and the routes that serve its description (saying whether this gateway
    asks for a bearer token); without /metrics when it is served on a port of its own."""
    from gateway.openapi import build_document

    docs = ApiDocs(build_document(API, auth=auth))
    routes = {**ROUTES, **docs_routes(docs)}
    if not metrics:
        del routes["/metrics"]
    routes = bound(routes)
    docs.link(routes)
    return routes
