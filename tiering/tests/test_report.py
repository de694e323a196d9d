"""The dashboard's reads: aggregate queries that agree with pricing each object one by one, in a
fixed number of queries, and the daily snapshot."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import make_user
from media.models import MediaAsset, MediaRendition
from media.tests.factories import make_asset
from tiering import access, costs
from tiering import report as tier_report
from tiering.costs import ObjectGroup
from tiering.models import StorageSnapshot

pytestmark = pytest.mark.django_db

KB = 1024
MB = 1024**2


def stored_asset(
    *,
    size: int,
    tier: str = "STANDARD",
    idle_days: float | None = None,
    uploaded_days_ago: float = 400,
    read_rate: float = 0.0,
    large: int | None = 300 * KB,
    large_tier: str = "STANDARD",
) -> MediaAsset:
    """An asset with a grid thumbnail and (if ``large``) a large view, ``idle_days`` since its
    last access (None: never accessed) and uploaded ``uploaded_days_ago``."""
    now = timezone.now()
    asset = make_asset(
        byte_size=size,
        storage_tier=tier,
        read_rate=read_rate,
        # The rate was last updated by the access flush at the last access.
        read_rate_at=None if idle_days is None else now - timedelta(days=idle_days),
        last_accessed_at=None if idle_days is None else now - timedelta(days=idle_days),
    )
    MediaAsset.objects.filter(pk=asset.pk).update(
        created_at=now - timedelta(days=uploaded_days_ago)
    )
    rendition(asset, "grid", 236, 9 * KB)
    if large:
        rendition(asset, "large", 1472, large, tier=large_tier)
    return asset


def rendition(asset: MediaAsset, purpose: str, width: int, size: int, *, tier="STANDARD") -> None:
    MediaRendition.objects.create(
        asset=asset,
        purpose=purpose,
        width=width,
        height=width * 3 // 4,
        format="webp",
        key=f"{asset.original_key}/{purpose}-{width}.webp",
        byte_size=size,
        storage_tier=tier,
    )


def varied_assets() -> None:
    stored_asset(size=4 * MB, idle_days=2, read_rate=12.5)
    cooling = stored_asset(
        size=4 * MB, tier="STANDARD_IA", idle_days=45, read_rate=1.5, large_tier="STANDARD_IA"
    )
    # A grid rendition over 128 KB tiers too, and shares the asset's access signal.
    rendition(cooling, "grid", 736, 200 * KB, tier="STANDARD_IA")
    stored_asset(size=9 * MB, tier="GLACIER_IR", idle_days=None, read_rate=0.2)
    stored_asset(size=100 * KB, idle_days=120, large=None)
    stored_asset(size=2 * MB, tier="GLACIER", idle_days=300, large_tier="GLACIER_IR")
    stored_asset(size=6 * MB, tier="INTELLIGENT_TIERING", idle_days=31, uploaded_days_ago=5)
    stored_asset(size=3 * MB, idle_days=29.5, uploaded_days_ago=1)
    # Read 8 times a month two months ago: the estimate charges a quarter of that now.
    stored_asset(size=5 * MB, tier="GLACIER_IR", idle_days=60, read_rate=8, large_tier="GLACIER_IR")


def bill_one_by_one(now) -> costs.Bill:
    """The bill priced object by object in Python, from the rows themselves."""
    prices = tier_report.tiering_prices()
    minimums = costs.billable_minimums(prices)
    groups = []
    for asset in MediaAsset.objects.filter(released_at__isnull=True).prefetch_related("renditions"):
        days = (now - (asset.last_accessed_at or asset.created_at)).total_seconds() / 86400
        rate = access.rate_decayed(asset.read_rate, asset.read_rate_at, now)
        objects = [(asset.byte_size, asset.storage_tier, rate, days)]
        for r in asset.renditions.all():
            if r.purpose in ("large", "video"):
                objects.append(
                    (r.byte_size, r.storage_tier, rate if r.byte_size >= 128 * KB else 0.0, days)
                )
            else:  # grid images and posters: read on every grid, taken as accessed now
                objects.append((r.byte_size, r.storage_tier, 0.0, 0.0))
        for size, tier, rate, idle in objects:
            groups.append(
                ObjectGroup.of(
                    size=size,
                    tier=tier,
                    days_since_access=idle,
                    reads_per_month=rate,
                    minimums=minimums,
                )
            )
    return costs.bill(groups, prices)


def test_report_agrees_with_pricing_each_object():
    varied_assets()
    gone = stored_asset(size=50 * MB, idle_days=1)
    MediaAsset.objects.filter(pk=gone.pk).update(released_at=timezone.now())
    now = timezone.now()

    report = tier_report.storage_report(now=now)

    expected = bill_one_by_one(now)
    for name in ("now", "all_standard", "intelligent", "intelligent_monitoring"):
        assert getattr(report.bill, name) == pytest.approx(getattr(expected, name), rel=1e-9)
    by_tier = {row.tier: row for row in report.rows}
    assert [row.tier for row in report.rows] == [
        "STANDARD",
        "STANDARD_IA",
        "GLACIER_IR",
        "GLACIER",
        "INTELLIGENT_TIERING",
    ]
    assert by_tier["STANDARD"].originals == 3  # the released asset is not counted
    assert by_tier["STANDARD"].original_bytes == 7 * MB + 100 * KB
    assert by_tier["STANDARD"].renditions == 8 + 4  # every grid thumbnail, 4 large views
    assert by_tier["GLACIER_IR"].renditions == 2
    assert by_tier["GLACIER"].bytes == 2 * MB
    assert report.objects == 8 + 9 + 7
    assert report.bytes == sum(row.bytes for row in report.rows)


def test_access_age_counts_from_the_last_access_or_the_upload():
    """The same asset, seen at three instants: Intelligent-Tiering's frequent, infrequent and
    archive-instant prices in turn (a controllable clock: the report takes ``now``)."""
    stored_asset(size=4 * 1024**3, idle_days=None, uploaded_days_ago=0, large=None)
    start = timezone.now()
    it = [
        tier_report.storage_report(now=start + timedelta(days=d)).bill.intelligent
        for d in (29, 30.01, 90.01)
    ]
    thumbnail = 0.023 * 9 * KB / 1024**3  # under 128 KB: always frequent, no monitoring fee
    fee = 0.0025 / 1000
    assert it == pytest.approx(
        [0.023 * 4 + fee + thumbnail, 0.0125 * 4 + fee + thumbnail, 0.004 * 4 + fee + thumbnail]
    )


def test_report_query_count_does_not_grow_with_rows():
    counts = []
    for total in (3, 30):
        while MediaAsset.objects.count() < total:
            stored_asset(size=MB * (MediaAsset.objects.count() + 1), idle_days=40)
        with CaptureQueriesContext(connection) as queries:
            report = tier_report.storage_report()
        assert report.rows[0].originals == total
        counts.append(len(queries))
    assert counts == [2, 2]


def test_snapshot_is_one_row_a_day_and_taking_it_again_updates_it():
    stored_asset(size=4 * MB, idle_days=100)
    first = tier_report.tiering_snapshot_take()
    again = tier_report.tiering_snapshot_take()
    assert StorageSnapshot.objects.count() == 1
    assert again.pk == first.pk and again.day == timezone.localdate()
    assert first.objects_by_tier == {"STANDARD": 3}
    assert first.monthly_cost == first.monthly_cost_all_standard > first.monthly_cost_intelligent

    make_user()  # unrelated rows change nothing
    MediaAsset.objects.update(storage_tier="GLACIER_IR")
    updated = tier_report.tiering_snapshot_take()
    assert StorageSnapshot.objects.count() == 1
    assert updated.objects_by_tier == {"STANDARD": 2, "GLACIER_IR": 1}
    assert updated.bytes_by_tier["GLACIER_IR"] == 4 * MB
    assert updated.monthly_cost < first.monthly_cost

    tier_report.tiering_snapshot_take(day=date(2026, 1, 2))
    assert StorageSnapshot.objects.count() == 2
    assert [s.day for s in tier_report.storage_snapshots_recent(days=10_000)] == [
        date(2026, 1, 2),
        timezone.localdate(),
    ]
