"""The restore path for archive tiers, against the session's S3 server over HTTP (moto).

moto completes a restore as soon as it is asked (AWS takes hours), so the "still restoring"
branch cannot be reached with a real server here; the task's countdown polling is what covers it.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from accounts.tests.factories import make_user
from boards.tests.factories import make_board
from media import services, storage, tasks
from media.models import MediaAsset, StorageTier
from media.tests.factories import TIERING_T0, make_stored_asset, storage_class_of
from pins.tests.factories import make_pin
from tiering import tasks as tiering_tasks
from tiering.models import TierTransition
from tiering.restore import tiering_restore_step
from tiering.sweep import tiering_sweep

LATER = TIERING_T0 + timedelta(days=100)

pytestmark = pytest.mark.django_db


def test_a_page_needing_an_archived_object_shows_preparing_and_the_restore_brings_it_back(
    s3, client, django_capture_on_commit_callbacks
):
    owner = make_user()
    asset, renditions = make_stored_asset(owner=owner, tier_pinned=StorageTier.GLACIER)
    pin = make_pin(owner, make_board(owner), media_asset=asset)
    with time_machine.travel(LATER, tick=False):
        sweep = tiering_sweep()
    assert sweep.moved == 2 and storage_class_of(s3, renditions["large"].key) == "GLACIER"
    with pytest.raises(storage.ObjectArchived):
        storage.read_bytes(key=asset.original_key)

    # Staff no longer want it archived; a visitor opens the pin page meanwhile.
    MediaAsset.objects.filter(pk=asset.pk).update(tier_pinned="")
    with django_capture_on_commit_callbacks() as queued:
        page = client.get(pin.get_absolute_url()).content.decode()
    assert "The full-size image is being prepared" in page
    assert renditions["large"].key not in page  # no broken image: the grid's picture stands in
    assert renditions["grid"].key in page
    assert len(queued) == 1  # the restore task, once
    asset.refresh_from_db()
    assert asset.restore_requested_at is not None
    with django_capture_on_commit_callbacks() as again:
        client.get(pin.get_absolute_url())
    assert not again  # a second view does not queue it twice

    with time_machine.travel(LATER + timedelta(hours=1), tick=False):
        assert tiering_tasks.tiering_restore_step_task.apply(args=(asset.pk,)).get() == "done"
    assert storage_class_of(s3, asset.original_key) == "STANDARD"
    assert storage_class_of(s3, renditions["large"].key) == "STANDARD"
    assert storage.read_bytes(key=asset.original_key) == b"x" * asset.byte_size
    head = s3.head_object(Bucket=storage._bucket(), Key=asset.original_key)
    assert head["ContentType"] == "image/jpeg" and head["ContentDisposition"] == "attachment"
    asset.refresh_from_db()
    assert asset.storage_tier == StorageTier.STANDARD and asset.restore_requested_at is None
    restored = TierTransition.objects.filter(asset=asset, cause="restore")
    assert {(t.from_tier, t.to_tier) for t in restored} == {("GLACIER", "STANDARD")}
    assert restored.count() == 2
    page = client.get(pin.get_absolute_url()).content.decode()
    assert "being prepared" not in page and renditions["large"].key in page
    assert tiering_restore_step(asset_id=asset.pk) == "done"  # nothing left: harmless again


def test_the_worker_asks_for_a_restore_instead_of_failing_on_an_archived_original(
    s3, django_capture_on_commit_callbacks
):
    from media.tests.factories import image_bytes

    data = image_bytes(400, 300)
    asset = services.media_asset_create(owner=make_user(), data=data)
    storage.tier_change(key=asset.original_key, tier="GLACIER")
    MediaAsset.objects.filter(pk=asset.pk).update(storage_tier=StorageTier.GLACIER)
    with (
        django_capture_on_commit_callbacks() as queued,
        pytest.raises(storage.ObjectArchived) as raised,
    ):
        services.media_asset_process(asset_id=asset.pk)
    assert tasks.is_transient(raised.value)  # the task retries it later, with backoff
    asset.refresh_from_db()
    assert asset.status == MediaAsset.Status.PENDING and asset.restore_requested_at is not None
    assert len(queued) == 1

    assert tiering_restore_step(asset_id=asset.pk) == "done"
    processed = services.media_asset_process(asset_id=asset.pk)
    assert processed is not None
    assert processed.status == MediaAsset.Status.READY
    assert storage_class_of(s3, asset.original_key) == "STANDARD"


def test_a_pin_out_of_glacier_restores_first_and_then_moves(s3, django_capture_on_commit_callbacks):
    asset, renditions = make_stored_asset(tier_pinned=StorageTier.GLACIER)
    assert tiering_sweep(now=LATER).moved == 2
    MediaAsset.objects.filter(pk=asset.pk).update(tier_pinned=StorageTier.STANDARD_IA)
    with django_capture_on_commit_callbacks() as queued:
        blocked = tiering_sweep(now=LATER + timedelta(days=1))
    assert blocked.moved == 0 and blocked.s3_calls == 0 and not blocked.error
    assert len(queued) == 1  # the restore, instead of a copy S3 would refuse
    asset.refresh_from_db()
    assert asset.restore_requested_at is not None
    assert tiering_restore_step(asset_id=asset.pk) == "done"
    moved = tiering_sweep(now=LATER + timedelta(days=2))
    assert moved.moved == 2
    assert storage_class_of(s3, asset.original_key) == "STANDARD_IA"
    assert storage_class_of(s3, renditions["large"].key) == "STANDARD_IA"
    causes = list(TierTransition.objects.filter(asset=asset).values_list("cause", "to_tier"))
    assert (
        causes.count(("restore", "STANDARD")) == 2 and causes.count(("staff", "STANDARD_IA")) == 2
    )
