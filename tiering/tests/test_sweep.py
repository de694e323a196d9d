"""The tiering sweep against the session's S3 server over HTTP (moto) and PostgreSQL.

The clock is time-machine's: assets are made "100 days ago" and swept "now", never slept for.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from media import storage
from media.models import MediaAsset, MediaRendition, StorageTier
from media.tests.factories import TIERING_T0, make_stored_asset, storage_class_of
from tiering.models import TieringPolicy, TieringSweep, TierTransition
from tiering.sweep import PlannedMove, tiering_policy_get, tiering_sweep

LATER = TIERING_T0 + timedelta(days=100)

KB = 1024

pytestmark = pytest.mark.django_db


def test_a_sweep_moves_cold_objects_keeps_their_headers_and_leaves_the_rest(s3):
    cold, cold_r = make_stored_asset()
    with time_machine.travel(LATER - timedelta(days=1), tick=False):
        warm, warm_r = make_stored_asset()
    MediaAsset.objects.filter(pk=warm.pk).update(last_accessed_at=LATER - timedelta(days=2))
    small, _ = make_stored_asset(size=100 * KB, large=90 * KB)
    excluded, _ = make_stored_asset(tier_excluded=True)
    make_stored_asset(on_s3=False, status=MediaAsset.Status.FAILED, failure_reason="bad")
    before = s3.head_object(Bucket=storage._bucket(), Key=cold.original_key)

    with time_machine.travel(LATER, tick=False):
        sweep = tiering_sweep()

    # 100 days without access: the archive-instant tier, for the original and the large view.
    assert storage_class_of(s3, cold.original_key) == "GLACIER_IR"
    assert storage_class_of(s3, cold_r["large"].key) == "GLACIER_IR"
    assert storage_class_of(s3, cold_r["grid"].key) == "STANDARD"  # under 128 KB: never tiered
    after = s3.head_object(Bucket=storage._bucket(), Key=cold.original_key)
    for header in ("ContentType", "ContentDisposition", "CacheControl", "Metadata"):
        assert after.get(header) == before.get(header), header
    assert after["ContentLength"] == 300 * KB
    for asset in (warm, small, excluded):
        assert storage_class_of(s3, asset.original_key) == "STANDARD"
    assert storage_class_of(s3, warm_r["large"].key) == "STANDARD"

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


def test_grid_thumbnails_stay_standard_even_when_large_and_idle(s3):
    # Grid images are read on every grid, and those reads are not counted: however big, a
    # signal blind to them must not demote them.
    cold, renditions = make_stored_asset(grid=200 * KB)
    with time_machine.travel(LATER, tick=False):
        sweep = tiering_sweep()
    assert storage_class_of(s3, renditions["grid"].key) == "STANDARD"
    assert storage_class_of(s3, renditions["large"].key) == "GLACIER_IR"
    assert MediaRendition.objects.get(pk=renditions["grid"].pk).storage_tier == "STANDARD"
    assert set(sweep.transitions.values_list("key", flat=True)) == {
        cold.original_key,
        renditions["large"].key,
    }


def test_a_dry_run_plans_without_calling_s3_or_recording_moves(s3):
    assets = [make_stored_asset()[0] for _ in range(3)]
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
    assert all(storage_class_of(s3, a.original_key) == "STANDARD" for a in assets)
    assert TieringSweep.objects.get(pk=preview.pk).dry_run


def test_staff_pins_move_with_cause_staff_and_modes_off_and_intelligent(s3):
    pinned, _ = make_stored_asset(tier_pinned=StorageTier.STANDARD_IA)
    cold, _ = make_stored_asset()
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
    assert storage_class_of(s3, pinned.original_key) == "STANDARD_IA"
    assert storage_class_of(s3, cold.original_key) == "STANDARD"
    assert set(TierTransition.objects.values_list("cause", flat=True)) == {"staff"}


def test_promotion_after_renewed_access_counted_through_the_pin_page(s3, client):
    from accounts.tests.factories import make_user
    from boards.tests.factories import make_board
    from pins.tests.factories import make_pin
    from tiering import access

    owner = make_user()
    asset, renditions = make_stored_asset(owner=owner)
    pin = make_pin(owner, make_board(owner), media_asset=asset)
    with time_machine.travel(LATER, tick=False):
        tiering_sweep()
    assert storage_class_of(s3, asset.original_key) == "GLACIER_IR"

    # Popular again: ten views of the pin page over a day, counted in Redis and flushed.
    with time_machine.travel(LATER + timedelta(days=1), tick=False):
        for _ in range(10):
            assert client.get(pin.get_absolute_url()).status_code == 200
        assert access.tiering_access_flush() == 1
        asset.refresh_from_db()
        assert asset.reads_total == 10 and asset.last_accessed_at == LATER + timedelta(days=1)
        assert asset.read_rate == pytest.approx(10 * access.READ_WEIGHT)
        sweep = tiering_sweep()
    assert sweep.moved == 2
    assert storage_class_of(s3, asset.original_key) == "STANDARD"
    assert storage_class_of(s3, renditions["large"].key) == "STANDARD"
    promoted = TierTransition.objects.filter(sweep=sweep).first()
    assert promoted is not None
    assert promoted.from_tier == "GLACIER_IR" and "reads a month" in promoted.reason


def test_two_sweeps_at_once_move_each_object_exactly_once(s3, transactional_db):
    if connection.vendor != "postgresql":
        pytest.fail("the concurrency test needs the session's PostgreSQL")
    policy = tiering_policy_get()
    policy.batch_size = 3
    policy.save()
    assets = [make_stored_asset()[0] for _ in range(12)]
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
    assert all(storage_class_of(s3, a.original_key) == "GLACIER_IR" for a in assets)


def test_on_local_disk_tiers_are_recorded_and_no_byte_moves(tmp_path):
    local = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path, "base_url": "/media/"},
        },
    }
    with override_settings(AWS_STORAGE_BUCKET_NAME="", STORAGES=local):
        asset, _ = make_stored_asset()
        sweep = tiering_sweep(now=LATER)
        assert not sweep.bytes_moved_on_storage and sweep.s3_calls == 0 and sweep.moved == 2
        asset.refresh_from_db()
        assert asset.storage_tier == StorageTier.GLACIER_IR
        assert (tmp_path / asset.original_key).stat().st_size == 300 * KB
        assert TierTransition.objects.filter(asset=asset).count() == 2


def test_in_intelligent_mode_new_originals_go_to_intelligent_tiering_and_stay_there(s3):
    from accounts.tests.factories import make_user
    from media import services
    from media.tests.factories import image_bytes

    policy = tiering_policy_get()
    policy.mode = TieringPolicy.Mode.INTELLIGENT
    policy.save()
    asset = services.media_asset_create(owner=make_user(), data=image_bytes(900, 600))
    assert asset.storage_tier == StorageTier.INTELLIGENT_TIERING
    assert storage_class_of(s3, asset.original_key) == "INTELLIGENT_TIERING"
    processed = services.media_asset_process(asset_id=asset.pk)  # rewrites the cleaned original
    assert processed is not None
    assert processed.storage_tier == StorageTier.INTELLIGENT_TIERING
    assert storage_class_of(s3, asset.original_key) == "INTELLIGENT_TIERING"
    head = s3.head_object(Bucket=storage._bucket(), Key=asset.original_key)
    assert head["ContentType"] == "image/jpeg" and head["ContentDisposition"] == "attachment"
    assert all(
        storage_class_of(s3, key) == "STANDARD"
        for key in processed.renditions.values_list("key", flat=True)
    )
    # Switched to the app's own tiering later: S3 keeps deciding for these objects.
    policy.mode = TieringPolicy.Mode.APP
    policy.save()
    assert tiering_sweep(now=timezone.now() + timedelta(days=400)).moved == 0


@pytest.mark.django_db(transaction=True)
def test_the_beat_tasks_run_on_a_real_worker_on_the_tiering_queue(s3, celery_worker_factory):
    from tiering import access, tasks

    asset, _ = make_stored_asset()
    _process, log = celery_worker_factory("tiering", queues="tiering")
    access.record([asset.pk])
    tasks.tiering_access_flush_task.delay()
    assert _eventually(lambda: MediaAsset.objects.get(pk=asset.pk).reads_total == 1), (
        log.read_text()
    )
    tasks.tiering_sweep_task.delay()
    assert _eventually(
        lambda: TieringSweep.objects.filter(status=TieringSweep.Status.DONE).exists()
    ), log.read_text()[-3000:]
    # Accessed just now: nothing is cold, nothing moves.
    assert TieringSweep.objects.get().moved == 0 and "tiering_sweep_task" in log.read_text()


def _eventually(predicate, timeout: float = 30.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_the_command_previews_and_runs_a_sweep(s3):
    from io import StringIO

    from django.core.management import CommandError, call_command

    asset, _ = make_stored_asset()
    out = StringIO()
    with time_machine.travel(LATER, tick=False):
        call_command("tier_sweep", "--dry-run", stdout=out)
    assert f"{asset.original_key}: STANDARD -> GLACIER_IR" in out.getvalue()
    assert "would move 2" in out.getvalue()
    assert storage_class_of(s3, asset.original_key) == "STANDARD"
    with time_machine.travel(LATER, tick=False):
        call_command("tier_sweep", stdout=(out := StringIO()))
    assert "moved 2" in out.getvalue()
    assert storage_class_of(s3, asset.original_key) == "GLACIER_IR"
    with pytest.raises(CommandError, match="--show"):
        call_command("tier_sweep", "--dry-run", "--show", "-1")
