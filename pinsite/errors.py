"""The site's error pages when something it depends on is not answering.

Policy: a request that fails because the database is unreachable, refuses connections or gives up
on a statement (``django.db.OperationalError`` / ``InterfaceError``, raised by a view or by a
middleware) gets a calm 503 with ``Retry-After`` instead of the generic 500: "the database is not
answering right now; nothing was saved". Requests the site's own JavaScript makes (uploads, the
upload status poll, anything asking for JSON) get the same words as JSON, so the upload screen can
show them. Any other unhandled error is the site's own 500 page. A write that failed this way
changed nothing: each request's writes run in a transaction that the error rolled back.
"""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.views.decorators.csrf import requires_csrf_token

DATABASE_DOWN = (
    "The database is not answering right now; nothing was saved. Please try again in a minute."
)
RETRY_AFTER_SECONDS = 30
# The site's own JavaScript reads these routes as JSON.
JSON_PATHS = ("/pin/upload", "/pin/status")


def wants_json(request: HttpRequest) -> bool:
    return request.path.startswith(JSON_PATHS) or "application/json" in request.headers.get(
        "Accept", ""
    )


@requires_csrf_token
def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: runs inside Django's exception handling, so the error is still current."""
    error = sys.exc_info()[1]
    if isinstance(error, OperationalError | InterfaceError):
        if wants_json(request):
            response: HttpResponse = JsonResponse(
                {"error": DATABASE_DOWN, "code": "database_unavailable"}, status=503
            )
        else:
            body = loader.render_to_string("503.html", {"message": DATABASE_DOWN})
            response = HttpResponse(body, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if wants_json(request):
        return JsonResponse(
            {
                "error": "Something went wrong on our side; please try again.",
                "code": "server_error",
            },
            status=500,
        )
    return HttpResponse(loader.render_to_string("500.html"), status=500)
