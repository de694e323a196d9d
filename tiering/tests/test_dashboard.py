"""The staff storage dashboard (/admin/tiering/storage/), the tier actions on media and the policy
form: who may see and change what, what the page shows, and bad input changing nothing."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import make_user
from media import storage
from media.models import MediaAsset
from media.tests.factories import make_asset
from tiering import services
from tiering.dashboard import _nice_ceiling, savings_chart
from tiering.models import StorageSnapshot, TieringPolicy, TieringSweep, TierTransition

pytestmark = pytest.mark.django_db

URL = "/admin/tiering/storage/"
MB = 1024**2
GOOD_POLICY = {
    "action": "policy",
    "mode": "app",
    "infrequent_after_days": "45",
    "archive_after_days": "120",
    "min_object_bytes": str(256 * 1024),
    "horizon_days": "365",
    "promote_reads_per_month": "2.5",
    "batch_size": "250",
}


def cold_asset(size: int = 4 * MB, idle_days: int = 120, **fields) -> MediaAsset:
    asset = make_asset(
        byte_size=size, last_accessed_at=timezone.now() - timedelta(days=idle_days), **fields
    )
    MediaAsset.objects.filter(pk=asset.pk).update(created_at=timezone.now() - timedelta(days=400))
    return asset


def text_of(response) -> str:
    """The page's visible words, tags removed and spaces collapsed."""
    html = response.content.decode()
    html = re.sub(r"<(style|script)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_dashboard_shows_tiers_bills_history_and_the_last_sweep(staff_client, settings):
    settings.AWS_STORAGE_BUCKET_NAME = ""  # the embedded default's local disk
    cold_asset(size=8 * MB, storage_tier="GLACIER_IR")
    cold_asset(size=2 * MB, idle_days=3)
    today = timezone.localdate()
    for days_ago, cost in ((2, "0.0400"), (1, "0.0300"), (0, "0.0200")):
        StorageSnapshot.objects.create(
            day=today - timedelta(days=days_ago),
            monthly_cost=Decimal(cost),
            monthly_cost_all_standard=Decimal("0.0500"),
            monthly_cost_intelligent=Decimal("0.0250"),
        )
    TieringSweep.objects.create(
        mode="app",
        status="done",
        finished_at=timezone.now(),
        examined=1234,
        moved=56,
        bytes_moved=78 * MB,
        s3_calls=56,
        expected_monthly_saving=Decimal("1.25"),
        bytes_moved_on_storage=False,
    )
    TieringSweep.objects.create(mode="app", status="done", finished_at=timezone.now(), dry_run=True)

    response = staff_client.get(URL)

    assert response.status_code == 200
    text = text_of(response)
    assert "Glacier Instant Retrieval GLACIER_IR 1 8.0 MB" in text
    assert "Standard STANDARD 1 2.0 MB" in text
    # 8 MB at $0.004 + 2 MB at $0.023 a GB-month, against 10 MB at $0.023.
    now, standard = (8 * 0.004 + 2 * 0.023) / 1024, 10 * 0.023 / 1024
    assert f"As stored now ${now:.6f}" in text
    assert f"All STANDARD ${standard:.6f}" in text
    assert f"{100 * (standard - now) / standard:.1f}% ) vs all STANDARD" in text.replace(
        "%)", "% )"
    )
    assert "byte move is a no-op here" in text
    # The chart: an accessible SVG with a title, a description and the same figures as a table.
    html = response.content.decode()
    assert 'role="img" aria-labelledby="chart-title chart-desc"' in html
    assert html.count("<polyline") == 3
    assert "3 daily snapshot(s)" in text
    assert f"{today:%Y-%m-%d} $0.0200 $0.0500 $0.0250 $0.0300" in text
    # The last real sweep, not the dry run.
    assert "Objects examined 1234" in text and "Objects moved 56 (78.0 MB)" in text
    assert "Expected monthly saving $1.25" in text
    assert "Local disk: tiers recorded, no bytes moved." in text
    assert 'name="infrequent_after_days" value="30"' in html


def test_the_dashboard_with_nothing_stored(staff_client):
    response = staff_client.get(URL)
    assert response.status_code == 200
    text = text_of(response)
    assert ("Media is in S3" in text) is storage.is_s3()
    assert "Nothing is stored yet." in text
    assert "No snapshots yet" in text
    assert "No sweep has run yet." in text
    assert "As stored now $0.0000" in text


def test_the_dashboard_is_linked_from_the_admin_index_and_the_media_list(staff_client):
    for page in (reverse("admin:index"), reverse("admin:media_mediaasset_changelist")):
        assert f'href="{URL}"' in staff_client.get(page).content.decode(), page
    # It belongs to the tiering section: its breadcrumb leads back there.
    section = reverse("admin:app_list", kwargs={"app_label": "tiering"})
    page = staff_client.get(URL).content.decode()
    breadcrumbs = page.split('<div class="breadcrumbs">', 1)[1].split("</div>", 1)[0]
    assert f'href="{section}"' in breadcrumbs, breadcrumbs


def test_people_who_are_not_staff_get_the_admin_login(client):
    for method in (client.get, client.post):
        response = method(URL)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    client.force_login(make_user("visitor"))
    response = client.get(URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert client.post(URL, GOOD_POLICY).status_code == 302
    assert not TieringPolicy.objects.filter(infrequent_after_days=45).exists()


def test_staff_need_the_permissions(client):
    staff = make_user("helper")
    staff.is_staff = True
    staff.save()
    client.force_login(staff)
    assert client.get(URL).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_storagesnapshot"))
    response = client.get(URL)
    assert response.status_code == 200
    assert b'name="action"' not in response.content  # may look, not change
    assert client.post(URL, GOOD_POLICY).status_code == 403
    assert client.post(URL, {"action": "preview"}).status_code == 403
    assert not TieringPolicy.objects.filter(infrequent_after_days=45).exists()
    assert not TieringSweep.objects.exists()


def test_the_dashboards_queries_do_not_grow_with_rows(staff_client):
    counts = []
    staff_client.get(URL)  # the policy row is made on first use
    for total in (3, 30):
        while MediaAsset.objects.count() < total:
            cold_asset()
            StorageSnapshot.objects.create(
                day=timezone.localdate() - timedelta(days=MediaAsset.objects.count()),
                monthly_cost=1,
                monthly_cost_all_standard=2,
                monthly_cost_intelligent=1,
            )
        with CaptureQueriesContext(connection) as queries:
            assert staff_client.get(URL).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_saving_the_policy(staff_client):
    response = staff_client.post(URL, GOOD_POLICY, follow=True)
    assert "Saved the tiering policy" in text_of(response)
    policy = TieringPolicy.objects.get()
    assert (policy.infrequent_after_days, policy.archive_after_days, policy.batch_size) == (
        45,
        120,
        250,
    )
    assert policy.promote_reads_per_month == 2.5 and policy.updated_by == staff_client.user


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"infrequent_after_days": "120", "archive_after_days": "90"},
            "infrequent_after_days",
            "infrequent_after_days must be positive and below archive_after_days",
        ),
        (
            {"min_object_bytes": "1000"},
            "min_object_bytes",
            "min_object_bytes cannot be under 128 KB: S3 bills smaller objects as 128 KB",
        ),
        ({"horizon_days": "10"}, "horizon_days", "horizon_days must be between 30 and 3650"),
        (
            {"promote_reads_per_month": "0"},
            "promote_reads_per_month",
            "promote_reads_per_month must be positive",
        ),
        (
            {"archive_after_days": "5000", "infrequent_after_days": "30"},
            "archive_after_days",
            "archive_after_days must be at most ten years",
        ),
        ({"batch_size": "0"}, "batch_size", "Batch size must be between 1 and 10,000."),
        ({"mode": "sometimes"}, "mode", "Select a valid choice."),
        ({"horizon_days": "soon"}, "horizon_days", "Enter a whole number."),
    ],
)
def test_the_policy_form_refuses_bad_values_and_changes_nothing(
    staff_client, changes, field, message
):
    before = TieringPolicy.objects.get_or_create(pk=1)[0]
    response = staff_client.post(URL, {**GOOD_POLICY, **changes})
    assert response.status_code == 200
    form = response.context["form"]
    assert any(message in error for error in form.errors[field]), form.errors
    assert message in response.content.decode()
    after = TieringPolicy.objects.get()
    for name in services.TIERING_POLICY_FIELDS:
        assert getattr(after, name) == getattr(before, name), name
    assert after.updated_at == before.updated_at
    # What was typed stays in the form.
    for name, value in changes.items():
        if name != "mode":
            assert f'name="{name}" value="{value}"' in response.content.decode()


def test_the_policy_admin_edits_the_one_row_with_the_same_checks(staff_client):
    TieringPolicy.objects.get_or_create(pk=1)
    url = reverse("admin:tiering_tieringpolicy_change", args=[1])
    data = {name: value for name, value in GOOD_POLICY.items() if name != "action"}
    response = staff_client.post(url, {**data, "horizon_days": "10"})
    assert response.status_code == 200
    assert "horizon_days must be between 30 and 3650" in response.content.decode()
    assert TieringPolicy.objects.get().horizon_days == 180
    assert staff_client.post(url, data).status_code == 302
    assert TieringPolicy.objects.get().horizon_days == 365
    assert staff_client.get(reverse("admin:tiering_tieringpolicy_add")).status_code == 403
    delete = reverse("admin:tiering_tieringpolicy_delete", args=[1])
    assert staff_client.post(delete, {"post": "yes"}).status_code == 403
    assert TieringPolicy.objects.exists()


def test_recording_the_snapshot_from_the_dashboard_twice_keeps_one_row(staff_client):
    cold_asset()
    for _ in range(2):
        response = staff_client.post(URL, {"action": "snapshot"}, follow=True)
        assert "Recorded the snapshot" in text_of(response)
    snapshot = StorageSnapshot.objects.get()
    assert snapshot.day == timezone.localdate() and snapshot.objects_by_tier == {"STANDARD": 1}


def test_an_unknown_action_is_refused(staff_client):
    assert staff_client.post(URL, {"action": "sweep-for-real"}).status_code == 400
    assert not TieringSweep.objects.exists()


def test_the_dry_run_preview_lists_the_planned_moves_and_moves_nothing(staff_client):
    cold_assets = [cold_asset(size=(4 + i) * MB) for i in range(3)]
    warm = cold_asset(size=4 * MB, idle_days=1)
    response = staff_client.post(URL, {"action": "preview"})
    assert response.status_code == 200
    text = text_of(response)
    sweep = TieringSweep.objects.get()
    assert sweep.dry_run and sweep.moved == 3 and not TierTransition.objects.exists()
    assert "Would move 3" in text and "Examined 4" in text
    assert "The first 3 planned move(s)." in text
    for asset in cold_assets:
        assert asset.original_key in text
    assert warm.original_key not in text
    assert MediaAsset.objects.filter(storage_tier="STANDARD").count() == 4
    assert text.count("STANDARD GLACIER_IR") == 3  # from, to
    # A real sweep is not a dry run: the dashboard's "last sweep" ignores previews.
    assert "No sweep has run yet." in text


def test_tier_actions_pin_exclude_and_include(staff_client):
    chosen, other = cold_asset(), cold_asset()
    url = reverse("admin:media_mediaasset_changelist")

    def act(action: str) -> str:
        response = staff_client.post(
            url, {"action": action, "_selected_action": [chosen.pk]}, follow=True
        )
        return text_of(response)

    assert "Pinned 1 asset(s) to GLACIER_IR (0 already were)" in act("pin_to_glacier_ir")
    assert "move at the next sweep" in act("pin_to_glacier_ir").replace("Their objects ", "")
    chosen.refresh_from_db()
    assert (chosen.tier_pinned, chosen.tier_excluded) == ("GLACIER_IR", False)
    assert "Excluded 1 asset(s)" in act("exclude_from_tiering")
    chosen.refresh_from_db()
    assert (chosen.tier_pinned, chosen.tier_excluded) == ("", True)
    assert "Pinned 1 asset(s) to GLACIER" in act("pin_to_glacier")
    chosen.refresh_from_db()
    assert (chosen.tier_pinned, chosen.tier_excluded) == ("GLACIER", False)
    TieringPolicy.objects.filter(pk=1).update(mode="off")
    assert "Tiering is off, so they move once it is turned on." in act("pin_to_standard_ia")
    assert "Handed 1 asset(s) back to the tiering policy" in act("include_in_tiering")
    chosen.refresh_from_db()
    assert (chosen.tier_pinned, chosen.tier_excluded) == ("", False)
    other.refresh_from_db()
    assert (other.tier_pinned, other.tier_excluded, other.storage_tier) == ("", False, "STANDARD")


def test_tier_pin_refuses_tiers_staff_cannot_pin():
    asset = cold_asset()
    with pytest.raises(ValidationError, match="cannot be pinned"):
        services.media_asset_tier_pin(asset_ids=[asset.pk], tier="INTELLIGENT_TIERING")
    asset.refresh_from_db()
    assert asset.tier_pinned == ""


def test_the_media_list_shows_and_filters_tier_columns(staff_client):
    pinned = cold_asset(tier_pinned="STANDARD_IA", read_rate=3.25)
    cold_asset(tier_excluded=True)
    url = reverse("admin:media_mediaasset_changelist")
    text = text_of(staff_client.get(url))
    assert "pinned to STANDARD_IA" in text and "excluded" in text and "3.2" in text
    filtered = staff_client.get(url, {"tier_pinned__exact": "STANDARD_IA"})
    assert list(filtered.context["cl"].result_list) == [pinned]


def test_chart_axis_tops_are_round():
    assert [_nice_ceiling(v) for v in (0, 0.0003, 0.7, 1, 1.2, 2.2, 4, 7, 73)] == [
        1.0,
        pytest.approx(0.0005),
        pytest.approx(1.0),
        1.0,
        2.0,
        2.5,
        5.0,
        10.0,
        100.0,
    ]


def test_chart_points_stay_inside_the_plot():
    today = timezone.localdate()
    snapshots = [
        StorageSnapshot(
            day=today - timedelta(days=n),
            monthly_cost=Decimal(n),
            monthly_cost_all_standard=Decimal(2 * n + 1),
            monthly_cost_intelligent=Decimal(n) / 2,
        )
        for n in range(40, -1, -1)
    ]
    chart = savings_chart(snapshots)
    assert chart is not None
    for series in chart.series:
        assert len(series.dots) == 41
        for x, y in series.dots:
            assert chart.left <= x <= chart.right and chart.top <= y <= chart.bottom
    # All-STANDARD starts at $81 on an axis topped at $100.
    assert chart.series[0].dots[0] == (
        chart.left,
        round(chart.bottom - 0.81 * (chart.bottom - chart.top), 1),
    )
    assert chart.y_ticks[-1] == (chart.top, "$100.00")
    assert savings_chart([]) is None
    one = savings_chart(snapshots[:1])
    assert one is not None
    assert one.series[0].dots[0][0] == (chart.left + chart.right) / 2
