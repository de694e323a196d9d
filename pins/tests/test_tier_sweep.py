"""The tiering sweep against the session's S3 server over HTTP (moto) and PostgreSQL.

The clock is time-machine's: assets are made "100 days ago" and swept "now", never slept for.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.test import override_settings

from pins import storage
from pins.models import (
    MediaAsset,
    MediaRendition,
    StorageTier,
    TieringPolicy,
    TieringSweep,
    TierTransition,
)
from pins.tests.factories import make_asset
from pins.tier_sweep import PlannedMove, tiering_policy_get, tiering_sweep

KB = 1024
T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
LATER = T0 + timedelta(days=100)

pytestmark = pytest.mark.django_db


@pytest.fixture
def s3(services):
    if not storage.is_s3():
        pytest.fail("the session's S3 server is not configured")
    return storage._client()


def _put(key: str, size: int, fmt: str) -> None:
    storage.put_bytes(key=key, data=b"x" * size, fmt=fmt)


def stored_asset(*, size=300 * KB, large=400 * KB, grid=20 * KB, on_s3=True, **fields):
    """A ready asset made at T0 whose original, large view and one grid thumbnail exist."""
    key = f"originals/2026/01/{uuid.uuid4().hex}.jpg"
    with time_machine.travel(T0, tick=False):
        asset = make_asset(original_key=key, byte_size=size, **fields)
        renditions = {}
        for purpose, width, nbytes in (("large", 1472, large), ("grid", 236, grid)):
            rkey = storage.rendition_key(original_key=key, purpose=purpose, width=width, fmt="webp")
            renditions[purpose] = MediaRendition.objects.create(
                asset=asset,
                purpose=purpose,
                width=width,
                height=width,
                format="webp",
                key=rkey,
                byte_size=nbytes,
            )
    if on_s3:
        _put(key, size, "jpeg")
        for rendition in renditions.values():
            _put(rendition.key, rendition.byte_size, "webp")
    return asset, renditions


def _class(s3, key: str) -> str:
    return s3.head_object(Bucket=storage._bucket(), Key=key).get("StorageClass", "STANDARD")


def test_a_sweep_moves_cold_objects_keeps_their_headers_and_leaves_the_rest(s3):
    cold, cold_r = stored_asset()
    with time_machine.travel(LATER - timedelta(days=1), tick=False):
        warm, warm_r = stored_asset()
    MediaAsset.objects.filter(pk=warm.pk).update(last_accessed_at=LATER - timedelta(days=2))
    small, _ = stored_asset(size=100 * KB, large=90 * KB)
    excluded, _ = stored_asset(tier_excluded=True)
    stored_asset(on_s3=False, status=MediaAsset.Status.FAILED, failure_reason="bad")
    before = s3.head_object(Bucket=storage._bucket(), Key=cold.original_key)

    with time_machine.travel(LATER, tick=False):
        sweep = tiering_sweep()

    # 100 days without access: the archive-instant tier, for the original and the large view.
    assert _class(s3, cold.original_key) == "GLACIER_IR"
    assert _class(s3, cold_r["large"].key) == "GLACIER_IR"
    assert _class(s3, cold_r["grid"].key) == "STANDARD"  # under 128 KB: never tiered
    after = s3.head_object(Bucket=storage._bucket(), Key=cold.original_key)
    for header in ("ContentType", "ContentDisposition", "CacheControl", "Metadata"):
        assert after.get(header) == before.get(header), header
    assert after["ContentLength"] == 300 * KB
    for asset in (warm, small, excluded):
        assert _class(s3, asset.original_key) == "STANDARD"
    assert _class(s3, warm_r["large"].key) == "STANDARD"

    cold.refresh_from_db()
    assert cold.storage_tier == StorageTier.GLACIER_IR and cold.tier_changed_at == LATER
    assert MediaRendition.objects.get(pk=cold_r["large"].pk).storage_tier == "GLACIER_IR"
    transitions = TierTransition.objects.filter(sweep=sweep).order_by("key")
    assert {(t.key, t.from_tier, t.to_tier, t.cause) for t in transitions} == {
        (cold.original_key, "STANDARD", "GLACIER_IR", "policy"),
        (cold_r["large"].key, "STANDARD", "GLACIER_IR", "policy"),
    }
    assert all(t.expected_monthly_saving > 0 and "100 days" in t.reason for t in transitions)
    assert sweep.status == TieringSweep.Status.DONE and sweep.bytes_moved_on_storage
    # Originals of warm, small and cold, plus the large views of warm and cold (the small
    # asset's 90 KB large view and every grid thumbnail are under 128 KB); the excluded and
    # failed assets are not looked at.
    assert (sweep.examined, sweep.moved, sweep.bytes_moved) == (5, 2, 700 * KB)
    assert sweep.s3_calls == 1 + 2  # the bucket's versioning once, then one copy per object
    assert float(sweep.expected_monthly_saving) == pytest.approx(
        sum(float(t.expected_monthly_saving) for t in transitions), abs=1e-6
    )

    # Again: nothing moves, and nothing costs an S3 call.
    with time_machine.travel(LATER + timedelta(hours=1), tick=False):
        again = tiering_sweep()
    assert (again.moved, again.s3_calls, again.examined) == (0, 0, 5)
    assert TierTransition.objects.count() == 2


def test_a_dry_run_plans_without_calling_s3_or_recording_moves(s3):
    assets = [stored_asset()[0] for _ in range(3)]
    preview = tiering_sweep(dry_run=True, now=LATER, limit=2)
    assert preview.dry_run and preview.moved == 6 and preview.s3_calls == 0
    assert len(preview.planned) == 2 and all(isinstance(p, PlannedMove) for p in preview.planned)
    first = preview.planned[0]
    assert (first.asset_id, first.key, first.from_tier, first.to_tier) == (
        assets[0].pk,
        assets[0].original_key,
        "STANDARD",
        "GLACIER_IR",
    )
    assert first.monthly_saving > 0 and first.object_bytes == 300 * KB
    assert not TierTransition.objects.exists()
    assert all(_class(s3, a.original_key) == "STANDARD" for a in assets)
    assert TieringSweep.objects.get(pk=preview.pk).dry_run


def test_staff_pins_move_with_cause_staff_and_modes_off_and_intelligent(s3):
    pinned, _ = stored_asset(tier_pinned=StorageTier.STANDARD_IA)
    cold, _ = stored_asset()
    # A fresh asset pinned: it moves although the policy alone would keep it.
    policy = tiering_policy_get()
    policy.mode = TieringPolicy.Mode.OFF
    policy.save()
    off = tiering_sweep(now=LATER)
    assert (off.examined, off.moved, off.mode) == (0, 0, "off")

    policy.mode = TieringPolicy.Mode.INTELLIGENT
    policy.save()
    intelligent = tiering_sweep(now=LATER)
    assert intelligent.moved == 2  # only the pinned asset's original and large view
    assert _class(s3, pinned.original_key) == "STANDARD_IA"
    assert _class(s3, cold.original_key) == "STANDARD"
    assert set(TierTransition.objects.values_list("cause", flat=True)) == {"staff"}


def test_promotion_after_renewed_access_counted_through_the_pin_page(s3, client):
    from pins import tier_access
    from pins.tests.factories import make_board, make_pin, make_user

    owner = make_user()
    asset, renditions = stored_asset(owner=owner)
    pin = make_pin(owner, make_board(owner), media_asset=asset)
    with time_machine.travel(LATER, tick=False):
        tiering_sweep()
    assert _class(s3, asset.original_key) == "GLACIER_IR"

    # Popular again: ten views of the pin page over a day, counted in Redis and flushed.
    with time_machine.travel(LATER + timedelta(days=1), tick=False):
        for _ in range(10):
            assert client.get(pin.get_absolute_url()).status_code == 200
        assert tier_access.flush() == 1
        asset.refresh_from_db()
        assert asset.reads_total == 10 and asset.last_accessed_at == LATER + timedelta(days=1)
        assert asset.read_rate == pytest.approx(10 * tier_access.READ_WEIGHT)
        sweep = tiering_sweep()
    assert sweep.moved == 2
    assert _class(s3, asset.original_key) == "STANDARD"
    assert _class(s3, renditions["large"].key) == "STANDARD"
    promoted = TierTransition.objects.filter(sweep=sweep).first()
    assert promoted.from_tier == "GLACIER_IR" and "reads a month" in promoted.reason


def test_two_sweeps_at_once_move_each_object_exactly_once(s3, transactional_db):
    if connection.vendor != "postgresql":
        pytest.fail("the concurrency test needs the session's PostgreSQL")
    policy = tiering_policy_get()
    policy.batch_size = 3
    policy.save()
    assets = [stored_asset()[0] for _ in range(12)]
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run():
        try:
            barrier.wait()
            results.append(tiering_sweep(now=LATER))
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert sum(sweep.moved for sweep in results) == 24
    assert TierTransition.objects.count() == 24
    assert TierTransition.objects.values("key").distinct().count() == 24
    assert all(_class(s3, a.original_key) == "GLACIER_IR" for a in assets)


def test_on_local_disk_tiers_are_recorded_and_no_byte_moves(tmp_path):
    local = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path, "base_url": "/media/"},
        },
    }
    with override_settings(AWS_STORAGE_BUCKET_NAME="", STORAGES=local):
        asset, _ = stored_asset()
        sweep = tiering_sweep(now=LATER)
        assert not sweep.bytes_moved_on_storage and sweep.s3_calls == 0 and sweep.moved == 2
        asset.refresh_from_db()
        assert asset.storage_tier == StorageTier.GLACIER_IR
        assert (tmp_path / asset.original_key).stat().st_size == 300 * KB
        assert TierTransition.objects.filter(asset=asset).count() == 2
