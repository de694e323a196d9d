"""Bringing an asset back from an archive tier before it is served.

GLACIER (flexible retrieval; only staff pin objects there) and S3 Intelligent-Tiering's optional
archive access tiers need a restore before an object can be read or copied: hours on AWS,
immediate on moto. While it runs, the pin page shows a calm "preparing" state (``pins.views``)
and ``tiering.tasks.tiering_restore_step_task`` polls, without sleeping, by retrying itself with a countdown.

Steps: ``tiering_restore_request`` marks the asset (``restore_requested_at``) and queues the task
once; each ``tiering_restore_step`` asks S3 to restore what is still archived, and copies each object
whose restore is complete back to STANDARD (a TierTransition with cause ``restore``; an
INTELLIGENT_TIERING object just goes back to its frequent tier by itself), and clears the mark
when nothing is archived any more. On local disk a restore only records the tiers.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from media import storage
from media.models import ARCHIVED_TIERS, MediaAsset, MediaRendition, StorageTier
from tiering import tasks
from tiering.models import TierTransition

logger = logging.getLogger(__name__)

# Tiers a page cannot serve from without a restore (as recorded on the rows).


def tiering_restore_request(*, asset_id: int) -> bool:
    """Start restoring the asset unless a restore is already under way; True if one started.

    One conditional UPDATE, so concurrent page views queue the task once.
    """
    started = MediaAsset.objects.filter(pk=asset_id, restore_requested_at__isnull=True).update(
        restore_requested_at=timezone.now()
    )
    if started:
        transaction.on_commit(lambda: _enqueue(asset_id))
    return bool(started)


def _enqueue(asset_id: int) -> None:
    try:
        tasks.tiering_restore_step_task.delay(asset_id)
    except Exception:
        # The mark stays; the next sweep (or page view after it is cleared) asks again.
        logger.warning("could not queue the restore of asset %s", asset_id, exc_info=True)
        MediaAsset.objects.filter(pk=asset_id).update(restore_requested_at=None)


def tiering_restore_step(*, asset_id: int, now: datetime | None = None) -> str:
    """One look at the asset's archived objects: "done", "waiting" (try again later) or "gone".

    No S3 call runs in a transaction: the objects to look at are read first, S3 is asked and
    copied outside, and each restored object is recorded in a short transaction that checks its
    row still says the tier it was restored from (a concurrent step that recorded it first wins;
    the copy itself is harmless twice).
    """
    now = now or timezone.now()
    with transaction.atomic():  # read on the writer
        asset = MediaAsset.objects.filter(pk=asset_id, released_at__isnull=True).first()
        if asset is None:
            return "gone"
        objects: list[tuple[int | None, str, int, str]] = []
        if (
            asset.storage_tier in ARCHIVED_TIERS
            or asset.storage_tier == StorageTier.INTELLIGENT_TIERING
            or asset.restore_requested_at is not None
        ):
            objects.append((None, asset.original_key, asset.byte_size, asset.storage_tier))
        renditions = asset.renditions.filter(
            Q(storage_tier__in=ARCHIVED_TIERS) | Q(storage_tier=StorageTier.INTELLIGENT_TIERING)
        ).values_list("pk", "key", "byte_size", "storage_tier")
        objects += list(renditions)
    waiting = False
    for rendition_id, key, size, tier in objects:
        if tier == StorageTier.INTELLIGENT_TIERING and not storage.is_s3():
            continue
        if storage.is_s3():
            status = storage.restore_status(key=key)
            if status == "archived":
                storage.restore_request(key=key)
                status = storage.restore_status(key=key)  # expedited ones may be done
            if status in {"archived", "restoring"}:
                waiting = True
                continue
            if status == "missing" or tier not in ARCHIVED_TIERS:
                continue  # gone, or INTELLIGENT_TIERING back in its frequent tier by itself
            storage.tier_change(key=key, tier=StorageTier.STANDARD)
            if storage.bucket_versioned():
                storage.purge_old_versions(key=key)
        elif tier not in ARCHIVED_TIERS:
            continue
        _record_restored(asset_id, rendition_id, key, size, tier, now)
    if waiting:
        return "waiting"
    with transaction.atomic():
        if not MediaAsset.objects.filter(pk=asset_id, released_at__isnull=True).exists():
            return "gone"
        MediaAsset.objects.filter(pk=asset_id, restore_requested_at__isnull=False).update(
            restore_requested_at=None, updated_at=now
        )
    return "done"


def _record_restored(
    asset_id: int, rendition_id: int | None, key: str, size: int, tier: str, now: datetime
) -> None:
    """Record one object back in STANDARD, unless its row no longer says ``tier``."""
    with transaction.atomic():
        if rendition_id is None:
            changed = MediaAsset.objects.filter(
                pk=asset_id, original_key=key, storage_tier=tier
            ).update(storage_tier=StorageTier.STANDARD, tier_changed_at=now, updated_at=now)
        else:
            changed = MediaRendition.objects.filter(pk=rendition_id, storage_tier=tier).update(
                storage_tier=StorageTier.STANDARD, tier_changed_at=now
            )
        if not changed:
            return
        TierTransition.objects.create(
            asset_id=asset_id,
            key=key,
            object_bytes=size,
            from_tier=tier,
            to_tier=StorageTier.STANDARD,
            cause=TierTransition.Cause.RESTORE,
            reason="needed by a page or the worker",
            expected_monthly_saving=Decimal(0),
            created_at=now,
        )
