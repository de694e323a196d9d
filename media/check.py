"""The media check: rows against objects, and assets stuck on their way to ready.

What it finds, in plain words:

* **Originals missing**: an asset (not failed, not being purged) whose original is not in storage.
* **Renditions missing**: a rendition row whose object is not in storage.
* **Orphan objects**: objects under ``originals/``, ``renditions/`` or ``uploads/`` that no row
  refers to and that are older than the grace period (default a day), so uploads and builds in
  flight, which write the object before the row, are never touched.
* **Assets stuck**: pending or processing for longer than ``stuck_after`` (default 15 minutes).

Only rows that did not change since the check began are judged, and a missing object is confirmed
with its own HEAD, so work done while the check runs is not taken for damage.

What ``repair`` does: an asset whose original is gone is marked failed with a reason its owner
reads, unless its renditions are all still there (it still shows; it is reported, and kept). An
asset whose original is there but renditions are missing is rebuilt (``media_asset_rebuild``:
queued again, its renditions made anew under the same keys). Orphans are deleted with all their
versions. Stuck assets are queued again (``media_asset_sweep_stuck``).

No storage call runs inside a transaction: the listing and the HEADs come first, rows are read
on the writer in autocommit (a lagging replica must not make fresh objects look unreferenced),
and each repair is its own short transaction. The run ends with one ``MediaCheckReport`` row,
which the staff page (/admin/media/check/) shows. Call from the command, the task or the page.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import DEFAULT_DB_ALIAS, transaction
from django.utils import timezone

from media import services, storage
from media.models import MediaAsset, MediaCheckReport, MediaRendition, PendingUpload
from media.provisioning import ORIGINALS, RENDITIONS, UPLOADS
from media.storage import inventory

logger = logging.getLogger(__name__)

# Problem kinds, in the order the report lists them, and what each means to staff.
PROBLEMS = {
    "originals_missing": "Assets whose original is no longer stored",
    "renditions_missing": "Renditions whose object is no longer stored",
    "orphan_objects": "Objects no row refers to (older than the grace period)",
    "assets_stuck": "Assets pending or processing for too long",
}
PREFIXES = (ORIGINALS, RENDITIONS, UPLOADS)
DEFAULT_GRACE = timedelta(days=1)
DEFAULT_STUCK_AFTER = timedelta(minutes=15)
EXAMPLES = 10  # keys or ids kept per kind in the report
REPORTS_KEPT = 90
LOST_REASON = "The uploaded file is no longer stored, so it cannot be shown or processed."


@dataclass
class Findings:
    """What the comparison found (before any repair)."""

    objects_listed: int = 0
    assets_checked: int = 0
    renditions_checked: int = 0
    originals_missing: dict[int, str] = field(default_factory=dict)  # asset id -> key
    renditions_missing: dict[int, list[str]] = field(default_factory=dict)  # asset id -> keys
    orphan_objects: list[str] = field(default_factory=list)
    assets_stuck: list[int] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "originals_missing": len(self.originals_missing),
            "renditions_missing": sum(map(len, self.renditions_missing.values())),
            "orphan_objects": len(self.orphan_objects),
            "assets_stuck": len(self.assets_stuck),
        }

    def examples(self) -> dict[str, list]:
        renditions = [key for keys in self.renditions_missing.values() for key in keys]
        return {
            "originals_missing": sorted(self.originals_missing.values())[:EXAMPLES],
            "renditions_missing": sorted(renditions)[:EXAMPLES],
            "orphan_objects": sorted(self.orphan_objects)[:EXAMPLES],
            "assets_stuck": sorted(self.assets_stuck)[:EXAMPLES],
        }


def media_check_find(
    *,
    grace: timedelta = DEFAULT_GRACE,
    stuck_after: timedelta = DEFAULT_STUCK_AFTER,
    now: datetime | None = None,
) -> Findings:
    """Compare the storage's objects with the rows; changes nothing."""
    began = now or timezone.now()
    stored = {obj.key: obj for prefix in PREFIXES for obj in inventory.objects_under(prefix=prefix)}
    findings = Findings(objects_listed=len(stored))

    # Read after the listing: a row made meanwhile then counts as a reference, never as damage.
    assets = MediaAsset.objects.using(DEFAULT_DB_ALIAS)
    renditions = MediaRendition.objects.using(DEFAULT_DB_ALIAS)
    asset_rows = list(
        assets.values_list("pk", "original_key", "status", "released_at", "updated_at")
    )
    rendition_rows = list(renditions.values_list("asset_id", "key", "created_at"))
    upload_keys = set(
        PendingUpload.objects.using(DEFAULT_DB_ALIAS)
        .filter(confirmed_at__isnull=True)
        .values_list("key", flat=True)
    )
    findings.assets_checked, findings.renditions_checked = len(asset_rows), len(rendition_rows)
    referenced = {key for _pk, key, *_rest in asset_rows} | upload_keys
    referenced |= {key for _asset, key, _created in rendition_rows}

    judged: set[int] = set()  # live assets unchanged since the check began
    for pk, key, status, released_at, updated_at in asset_rows:
        if released_at is not None or status == MediaAsset.Status.FAILED:
            continue  # being purged, or final: its objects may rightly be gone
        waiting = status in (MediaAsset.Status.PENDING, MediaAsset.Status.PROCESSING)
        if waiting and updated_at < began - stuck_after:
            findings.assets_stuck.append(pk)
        if updated_at >= began:
            continue
        judged.add(pk)
        if key not in stored:
            findings.originals_missing[pk] = key
    missing_renditions: dict[int, list[str]] = defaultdict(list)
    for asset_id, key, created_at in rendition_rows:
        if asset_id in judged and created_at < began and key not in stored:
            missing_renditions[asset_id].append(key)

    # A listing is a snapshot: confirm each absence with the object's own HEAD.
    findings.originals_missing = {
        pk: key for pk, key in findings.originals_missing.items() if not inventory.exists(key=key)
    }
    for asset_id, keys in missing_renditions.items():
        gone = [key for key in keys if not inventory.exists(key=key)]
        if gone:
            findings.renditions_missing[asset_id] = gone

    cutoff = began - grace
    findings.orphan_objects = [
        key for key, obj in stored.items() if key not in referenced and obj.modified < cutoff
    ]
    return findings


def media_check_run(
    *,
    repair: bool = False,
    grace: timedelta = DEFAULT_GRACE,
    stuck_after: timedelta = DEFAULT_STUCK_AFTER,
    trigger: str = MediaCheckReport.Trigger.COMMAND,
) -> MediaCheckReport:
    """Find (and with ``repair``, repair) what is wrong; record and return the report."""
    started = timezone.now()
    findings = media_check_find(grace=grace, stuck_after=stuck_after, now=started)
    repaired = {kind: 0 for kind in PROBLEMS}
    if repair:
        repaired = _repair(findings, stuck_after=stuck_after)
    with transaction.atomic():
        report = MediaCheckReport.objects.create(
            started_at=started,
            finished_at=max(timezone.now(), started),
            trigger=trigger,
            repair=repair,
            objects_listed=findings.objects_listed,
            assets_checked=findings.assets_checked,
            renditions_checked=findings.renditions_checked,
            found=findings.counts(),
            repaired=repaired,
            examples=findings.examples(),
        )
        old = MediaCheckReport.objects.order_by("-started_at").values_list("pk", flat=True)
        MediaCheckReport.objects.filter(pk__in=list(old[REPORTS_KEPT:])).delete()
    log = logger.warning if report.problems else logger.info
    log("media check: found %s, repaired %s", report.found, report.repaired)
    return report


def media_check_last() -> MediaCheckReport | None:
    """The newest report, if the check ever ran."""
    return MediaCheckReport.objects.order_by("-started_at").first()


def _repair(findings: Findings, *, stuck_after: timedelta) -> dict[str, int]:
    repaired = {kind: 0 for kind in PROBLEMS}
    for asset_id, key in findings.originals_missing.items():
        if asset_id not in findings.renditions_missing and _has_renditions(asset_id):
            continue  # still shown from its renditions (all stored): reported, not failed
        if _media_asset_mark_lost(asset_id=asset_id, original_key=key):
            repaired["originals_missing"] += 1
    rebuild = [pk for pk in findings.renditions_missing if pk not in findings.originals_missing]
    if rebuild:
        services.media_asset_rebuild(asset_ids=rebuild)  # queues after its commit
        # A failed asset's renditions need nothing more: it is not shown.
    for asset_id, keys in findings.renditions_missing.items():
        if asset_id in rebuild or asset_id in findings.originals_missing:
            repaired["renditions_missing"] += len(keys)
    repaired["orphan_objects"] = _orphans_delete(findings.orphan_objects)
    if findings.assets_stuck:
        queued = services.media_asset_sweep_stuck(older_than=stuck_after)
        repaired["assets_stuck"] = min(queued, len(findings.assets_stuck))
    return repaired


def _has_renditions(asset_id: int) -> bool:
    return MediaRendition.objects.using(DEFAULT_DB_ALIAS).filter(asset_id=asset_id).exists()


def _media_asset_mark_lost(*, asset_id: int, original_key: str) -> bool:
    """Fail the asset because its original is gone; False if it changed meanwhile or is busy."""
    with transaction.atomic():
        asset = (
            MediaAsset.objects.select_for_update(skip_locked=True)
            .filter(pk=asset_id, original_key=original_key, released_at__isnull=True)
            .exclude(status=MediaAsset.Status.FAILED)
            .first()
        )
        if asset is None:
            return False
        asset.status = MediaAsset.Status.FAILED
        asset.failure_reason = LOST_REASON
        asset.save(update_fields=["status", "failure_reason", "updated_at"])
    logger.warning("media asset %s failed: its original %s is gone", asset_id, original_key)
    return True


def _orphans_delete(keys: list[str]) -> int:
    """Delete orphans (all versions) that are still unreferenced now; returns how many."""
    deleted = 0
    for start in range(0, len(keys), 500):
        batch = keys[start : start + 500]
        referenced = {
            *MediaAsset.objects.using(DEFAULT_DB_ALIAS)
            .filter(original_key__in=batch)
            .values_list("original_key", flat=True),
            *MediaRendition.objects.using(DEFAULT_DB_ALIAS)
            .filter(key__in=batch)
            .values_list("key", flat=True),
            *PendingUpload.objects.using(DEFAULT_DB_ALIAS)
            .filter(key__in=batch, confirmed_at__isnull=True)
            .values_list("key", flat=True),
        }
        doomed = [key for key in batch if key not in referenced]
        storage.delete_keys(keys=doomed, all_versions=True)
        deleted += len(doomed)
    if deleted:
        logger.info("media check deleted %d orphan object(s)", deleted)
    return deleted


def media_check_enqueue(*, repair: bool) -> bool:
    """Queue a run for staff ("Check now"); False when the queue is not answering (nothing
    queued). Never retries the broker: the page answers at once either way."""
    from media import tasks

    try:
        tasks.media_check_task.apply_async(
            kwargs={"repair": repair, "trigger": MediaCheckReport.Trigger.STAFF}, retry=False
        )
    except Exception:
        logger.warning("could not queue the media check", exc_info=True)
        return False
    return True
