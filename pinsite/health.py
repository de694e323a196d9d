"""Health endpoints: liveness for load balancers, replica health for staff, metrics for a scraper."""

import hmac
import logging

from django.conf import settings
from django.db import DatabaseError, connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from pinsite import breaker, page_cache
from pinsite.db import replica_health

logger = logging.getLogger(__name__)


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the writer answers a query; 503 otherwise. Says nothing about data."""
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        logger.exception("health check: writer unreachable")
        return JsonResponse({"status": "unavailable"}, status=503)
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def replicas(request: HttpRequest) -> JsonResponse:
    """The read replicas as this web process sees them: rotation, lag, reasons, counters. Staff only."""
    if not request.user.is_staff:
        return JsonResponse({"error": "staff only"}, status=403)
    return JsonResponse(replica_health.health().report())


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """This process's database routing and cache counters in Prometheus' text format.

    Open to a request bearing ``METRICS_TOKEN`` as a bearer token, and to staff sessions.
    """
    if not (_has_metrics_token(request) or request.user.is_staff):
        return HttpResponse("metrics need a token or a staff session\n", status=403)
    return HttpResponse(
        replica_health.health().prometheus_text()
        + page_cache.prometheus_text()
        + breaker.prometheus_text(),
        content_type="text/plain; version=0.0.4; charset=utf-8",
    )


def _has_metrics_token(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(offered, token)
