"""/metrics: the gateway's Prometheus metrics (see gateway.metrics)."""

from gateway.http.operations import ApiResponse, Reply, operation
from gateway.metrics import BROKER_REACHABLE, exposition


@operation(
    summary="Prometheus metrics",
    tag="operations",
    documented=False,
    calls_services=False,
    rate_limited=False,
    replies={200: Reply("")},
)
def get_metrics(request):
    BROKER_REACHABLE.set(1 if request.broker_connected() else 0)
    body, media_type = exposition()
    return ApiResponse(200, body, media_type)
