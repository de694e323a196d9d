"""The staff storage dashboard (/admin/tiering/storage/): what is stored in which tier, what it costs a
month against all-STANDARD and S3 Intelligent-Tiering, savings over time, the last sweep, a dry
run of the next one, and the tiering policy form.

Reading needs the ``tiering.view_storagesnapshot`` permission; the policy form and the dry run need
``tiering.change_tieringpolicy``. Non-staff get the admin login (the admin site wraps the view).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse

from media import storage
from tiering import report as tier_report
from tiering import services
from tiering.forms import TieringPolicyForm
from tiering.models import StorageSnapshot
from tiering.sweep import tiering_policy_get, tiering_sweep
from tiering.templatetags.storage_tags import dollars

PREVIEW_LIMIT = 50


@dataclass(frozen=True)
class Series:
    name: str
    css: str  # class of the line (colour and dash pattern)
    points: str  # SVG polyline points
    dots: list[tuple[float, float]]


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    series: list[Series]
    y_ticks: list[tuple[float, str]]
    x_labels: list[tuple[float, str, str]]  # (x, label, text-anchor)
    summary: str


CHART_SERIES = [
    ("monthly_cost_all_standard", "All STANDARD", "all-standard"),
    ("monthly_cost_intelligent", "S3 Intelligent-Tiering", "intelligent"),
    ("monthly_cost", "As stored", "as-stored"),
]


def _nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 x 10^n at or above ``value`` (a round top for the axis)."""
    if value <= 0:
        return 1.0
    step = 10.0 ** math.floor(math.log10(value))
    for factor in (1, 2, 2.5, 5):
        if value <= factor * step * (1 + 1e-9):
            return factor * step
    return 10 * step


def savings_chart(snapshots: list[StorageSnapshot]) -> Chart | None:
    """The monthly bill, day by day, as three lines drawn server-side (no script)."""
    if not snapshots:
        return None
    width, height, left, right, top, bottom = 720, 260, 72, 704, 16, 228
    values = {
        field: [float(getattr(snapshot, field)) for snapshot in snapshots]
        for field, _, _ in CHART_SERIES
    }
    ceiling = _nice_ceiling(max(max(column) for column in values.values()))
    count = len(snapshots)

    def x(index: int) -> float:
        if count == 1:
            return (left + right) / 2
        return round(left + (right - left) * index / (count - 1), 1)

    def y(value: float) -> float:
        return round(bottom - (bottom - top) * value / ceiling, 1)

    series = []
    for field, name, css in CHART_SERIES:
        dots = [(x(i), y(v)) for i, v in enumerate(values[field])]
        series.append(Series(name, css, " ".join(f"{a},{b}" for a, b in dots), dots))
    ticks = [(y(ceiling * i / 4), dollars(ceiling * i / 4)) for i in range(5)]
    first, last = snapshots[0], snapshots[-1]
    labels = [(x(0), f"{first.day:%d %b %Y}", "start" if count > 1 else "middle")]
    if count > 1:
        labels.append((x(count - 1), f"{last.day:%d %b %Y}", "end"))
    summary = (
        f"{count} daily snapshot(s) from {first.day:%d %B %Y} to {last.day:%d %B %Y}. "
        f"On the last day the bill as stored was {dollars(float(last.monthly_cost))} a month, "
        f"{dollars(float(last.monthly_cost_all_standard))} if all STANDARD and "
        f"{dollars(float(last.monthly_cost_intelligent))} under S3 Intelligent-Tiering."
    )
    return Chart(width, height, left, right, top, bottom, series, ticks, labels, summary)


def storage_dashboard(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("tiering.view_storagesnapshot"):
        raise PermissionDenied
    can_change = request.user.has_perm("tiering.change_tieringpolicy")
    policy = tiering_policy_get()
    form = TieringPolicyForm(instance=policy)
    preview = None
    if request.method == "POST":
        if not can_change:
            raise PermissionDenied
        action = request.POST.get("action")
        if action == "policy":
            # A separate instance: a refused form must not show its values as the policy.
            form = TieringPolicyForm(request.POST, instance=tiering_policy_get())
            if form.is_valid():
                values = {name: form.cleaned_data[name] for name in services.TIERING_POLICY_FIELDS}
                services.tiering_policy_update(user=request.user, **values)
                messages.success(request, "Saved the tiering policy; the next sweep uses it.")
                return redirect(reverse("admin:tiering_storage") + "#policy")
        elif action == "preview":
            preview = tiering_sweep(dry_run=True, limit=PREVIEW_LIMIT)
        elif action == "snapshot":
            snapshot = tier_report.tiering_snapshot_take()
            messages.success(request, f"Recorded the snapshot for {snapshot.day:%d %B %Y}.")
            return redirect(reverse("admin:tiering_storage") + "#history")
        else:
            return HttpResponseBadRequest("Unknown dashboard action.")

    report = tier_report.storage_report()
    snapshots = tier_report.storage_snapshots_recent()
    context = {
        **admin.site.each_context(request),
        "title": "Storage tiers and costs",
        "report": report,
        "bill": report.bill,
        "chart": savings_chart(snapshots),
        "history": [
            (
                snapshot.day,
                snapshot.monthly_cost,
                snapshot.monthly_cost_all_standard,
                snapshot.monthly_cost_intelligent,
                snapshot.monthly_cost_all_standard - snapshot.monthly_cost,
            )
            for snapshot in snapshots
        ],
        "last_sweep": tier_report.tiering_sweep_last(),
        "policy": policy,
        "form": form,
        "can_change": can_change,
        "preview": preview,
        "preview_limit": PREVIEW_LIMIT,
        "on_s3": storage.is_s3(),
        "prices": sorted(tier_report.tiering_prices().items()),
    }
    # A refused form answers 200 with its errors, as the admin's own forms do.
    return render(request, "admin/tiering/storage_dashboard.html", context)
