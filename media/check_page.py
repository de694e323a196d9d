"""The staff page of the media check (/admin/media/check/): the last report with its counts, the
runs before it, and buttons that queue a run now (report only, or report and repair).

Reading needs ``media.view_mediacheckreport``; queueing a run needs ``media.add_mediacheckreport``.
Non-staff get the admin login (the admin site wraps the view).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from media import check
from media.models import MediaCheckReport

RECENT = 10


@require_http_methods(["GET", "HEAD", "POST"])
def media_check_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        if not request.user.has_perm("media.add_mediacheckreport"):
            raise PermissionDenied
        repair = request.POST.get("repair") == "1"
        if check.media_check_enqueue(repair=repair):
            messages.success(
                request,
                "The media check is queued"
                + (" with repairs" if repair else "")
                + ": reload this page in a minute for its report.",
            )
        else:
            messages.error(
                request,
                "The task queue is not answering right now, so no check was started. "
                "Try again in a minute.",
            )
        return redirect("admin:media_check")
    if not request.user.has_perm("media.view_mediacheckreport"):
        raise PermissionDenied
    report = check.media_check_last()
    rows = []
    if report is not None:
        rows = [
            {
                "label": label,
                "found": report.found.get(kind, 0),
                "repaired": report.repaired.get(kind, 0),
                "examples": report.examples.get(kind, []),
            }
            for kind, label in check.PROBLEMS.items()
        ]
    context = {
        **admin.site.each_context(request),
        "title": "Media check (rows against stored objects)",
        "report": report,
        "rows": rows,
        "recent": list(MediaCheckReport.objects.order_by("-started_at")[:RECENT]),
        "can_run": request.user.has_perm("media.add_mediacheckreport"),
        "grace_hours": check.DEFAULT_GRACE.total_seconds() / 3600,
        "stuck_minutes": check.DEFAULT_STUCK_AFTER.total_seconds() / 60,
    }
    return render(request, "admin/media/media_check.html", context)
