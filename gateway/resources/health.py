"""Liveness and readiness, for load balancers and orchestrators."""

from gateway.draining import draining
from gateway.http.operations import Reply, json_response, operation
from gateway.rpc.calls import NotConnected, RpcCall, RpcTimeout, UnknownService
from schemas.errors import ServiceUnavailable
from schemas.problem import Health

SERVICES = ("airports_service", "trips_service", "greeting_service")
READY_TIMEOUT = 1.0  # seconds each service has to answer
DRAINING = {"ok": False, "detail": "draining"}


@operation(
    tag="health",
    summary="Is the gateway process up?",
    description="200 whenever the process answers at all: it checks nothing else (see /health/ready).",
    calls_services=False,
    rate_limited=False,
    replies={200: Reply("It is.", Health)},
)
def get_liveness(request):
    return json_response(200, {"status": "ok", "checks": {}})


@operation(
    tag="health",
    summary="Can the gateway serve requests?",
    calls_services=False,  # a failing service is a check in the body, not an error
    rate_limited=False,
    description=f"Checks the broker connection, and that each service answers within {READY_TIMEOUT:g} s "
    "(airports and trips check their Redis). 503 with the same body when any check fails.",
    replies={200: Reply("Every check passed.", Health), 503: Reply("A check failed; `checks` says which.", Health)},
)
def get_readiness(request):
    if draining():  # told to stop: out of the balancer's rotation first (gateway/draining.py)
        return json_response(503, {"status": "unavailable", "checks": {"shutdown": DRAINING}})
    connected = request.broker_connected()
    checks = {"broker": {"ok": connected}}
    if connected:
        outcomes = yield [RpcCall(service, "health", timeout=READY_TIMEOUT) for service in SERVICES]
    else:
        outcomes = [NotConnected()] * len(SERVICES)
    for service, outcome in zip(SERVICES, outcomes, strict=True):
        checks[service] = {"ok": False, "detail": describe(outcome)} if isinstance(outcome, Exception) else {"ok": True}
    ok = all(check["ok"] for check in checks.values())
    return json_response(200 if ok else 503, {"status": "ok" if ok else "unavailable", "checks": checks})


def describe(error):
    if isinstance(error, RpcTimeout):
        return f"no answer within {READY_TIMEOUT:g} s"
    if isinstance(error, UnknownService):
        return "not running on this broker"
    if isinstance(error, NotConnected):
        return "no connection to the broker"
    if isinstance(error, ServiceUnavailable):
        return error.detail
    return "failed"
