"""Writes for media: both upload paths, processing, rebuilds, release and purge. Views, admin actions, commands and tasks call these."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any, cast

from botocore.exceptions import ClientError
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import ForeignObjectRel, OuterRef, Q
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from media import images, signals, storage, tasks, video
from media.models import MediaAsset, MediaAssetBusy, MediaRendition, PendingUpload, StorageTier

logger = logging.getLogger(__name__)


def media_asset_create(*, owner, data: bytes) -> MediaAsset:
    """Store an uploaded image and queue its processing; the same bytes twice give the same asset.

    The whole file's structure is checked without decoding pixels, and what is stored has its
    metadata (EXIF, GPS, XMP, comments, trailing data) removed already. Raises ValidationError
    (code from the check that failed) for anything that is not an acceptable image; nothing is
    stored then.
    """
    if len(data) > settings.MEDIA_MAX_UPLOAD_BYTES:
        raise ValidationError(
            f"This file is larger than {settings.MEDIA_MAX_UPLOAD_BYTES // (1024 * 1024)} MB.",
            code="too_large",
        )
    fields: dict = {"kind": MediaAsset.Kind.IMAGE}
    try:
        if video.detect(data) is not None:
            clip = video.probe(data)
            cleaned = video.clean_original(data, info=clip)  # no location, no camera tags
            fields = {"kind": MediaAsset.Kind.VIDEO, "duration_ms": clip.duration_ms}
            fmt, width, height = clip.format, clip.width, clip.height
        else:
            info, cleaned = images.clean_upload(data)
            fmt, width, height = info.format, info.width, info.height
    except images.MediaRejected as rejected:
        raise ValidationError(str(rejected), code=rejected.code) from None

    # Hash what was uploaded, not what is stored: the same file again must find this asset.
    return _media_asset_ingest(
        owner=owner,
        content_hash=hashlib.sha256(data).hexdigest(),
        fmt=fmt,
        width=width,
        height=height,
        byte_size=len(cleaned),
        fields=fields,
        store=lambda key, storage_class: storage.put_bytes(
            key=key, data=cleaned, fmt=fmt, storage_class=storage_class
        ),
    )


SNIFF_BYTES = 256 * 1024  # enough for the header of every allowed format, EXIF included


def upload_start(*, owner, media_type: str = "image") -> tuple[PendingUpload, dict]:
    """Allow ``owner`` one direct upload: a server-chosen key under uploads/, and the presigned
    POST form (size range, image/ or video/ Content-Type condition, short expiry) to send it with.
    What the object really is, is decided from its bytes at confirmation."""
    if media_type not in {"image", "video"}:
        raise ValidationError("Upload an image or a video.", code="unsupported_format")
    media_quota_check(owner=owner, adding=1)
    key = storage.upload_key_new(user_id=owner.pk)
    expires = settings.S3_UPLOAD_EXPIRY_SECONDS
    form = storage.presigned_post(
        key=key,
        max_bytes=settings.MEDIA_MAX_UPLOAD_BYTES,
        expires=expires,
        media_type=media_type,
    )
    pending = PendingUpload.objects.create(
        owner=owner,
        key=key,
        max_bytes=settings.MEDIA_MAX_UPLOAD_BYTES,
        expires_at=timezone.now() + timedelta(seconds=expires),
    )
    return pending, form


def upload_confirm(*, owner, upload_id: int) -> MediaAsset:
    """Turn a direct upload into a media asset, trusting nothing the browser said.

    Checks, in order: the upload was allowed to ``owner`` and not used; the object exists (HEAD)
    within the size limit; its first bytes are an allowed image (ranged GET); then hashes it. The
    same bytes as an asset ``owner`` already has give that asset. Otherwise the object is copied
    server-side to a fresh originals/ key with the sniffed Content-Type and processing is queued.
    A refused object is deleted. Re-confirming a confirmed upload returns its asset.
    Raises ValidationError for the person; storage errors propagate (the caller shows a calm
    message, and nothing was created).

    No S3 call is made inside a transaction or under a row lock: the checks and the copy run
    first, and only recording the confirmation locks the upload's row. Two confirmations of one
    upload at once both check it and end with the same asset (the bytes are the same).
    """
    with transaction.atomic():  # read on the writer: the upload was made a moment ago
        pending = (
            PendingUpload.objects.filter(pk=upload_id, owner=owner).select_related("asset").first()
        )
    if pending is None:
        raise ValidationError(
            "That upload is not yours or has expired. Upload the file again.",
            code="unknown_upload",
        )
    if pending.confirmed_at is not None:
        assert pending.asset is not None  # set when the upload was confirmed
        return pending.asset
    try:
        asset = _asset_from_upload(owner=owner, key=pending.key, max_bytes=pending.max_bytes)
    except (ValidationError, ClientError):
        # A confirmation running alongside may have finished first and removed the upload.
        with transaction.atomic():  # on the writer
            done = PendingUpload.objects.filter(pk=pending.pk, confirmed_at__isnull=False).first()
        if done is not None and done.asset is not None:
            return done.asset
        raise
    with transaction.atomic():
        # Recorded once; a confirmation that got here first already points at the same asset.
        PendingUpload.objects.filter(pk=pending.pk, confirmed_at__isnull=True).update(
            confirmed_at=timezone.now(), asset=asset
        )
    # The uploaded bytes (uncleaned: location and all) must not linger as an old version.
    storage.delete_keys(keys=[pending.key], all_versions=True)
    return asset


def _asset_from_upload(*, owner, key: str, max_bytes: int) -> MediaAsset:
    def refuse(message: str, code: str) -> ValidationError:
        storage.delete_keys(keys=[key], all_versions=True)
        return ValidationError(message, code=code)

    found = storage.head(key=key)
    if found is None:
        raise ValidationError("The file did not arrive. Upload it again.", code="missing_upload")
    if not 0 < found["size"] <= max_bytes:
        raise refuse(f"This file is larger than {max_bytes // (1024 * 1024)} MB.", "too_large")
    head = storage.read_range(key=key, length=SNIFF_BYTES)
    fields: dict = {"kind": MediaAsset.Kind.IMAGE}
    try:
        if video.detect(head) is not None:
            # A container's index may sit at its end: a video is probed whole (within the size
            # limit just checked), and hashed from the same bytes.
            data = storage.read_bytes(key=key)
            clip = video.probe(data)
            fmt, width, height = clip.format, clip.width, clip.height
            fields = {"kind": MediaAsset.Kind.VIDEO, "duration_ms": clip.duration_ms}
            content_hash = hashlib.sha256(data).hexdigest()
        else:
            info = images.sniff_image(head)
            fmt, width, height = info.format, info.width, info.height
            content_hash = storage.sha256_of(key=key)
    except images.MediaRejected as rejected:
        raise refuse(str(rejected), rejected.code) from None

    try:
        return _media_asset_ingest(
            owner=owner,
            content_hash=content_hash,
            fmt=fmt,
            width=width,
            height=height,
            byte_size=found["size"],
            fields=fields,
            store=lambda target, storage_class: storage.copy(
                source=key, target=target, fmt=fmt, storage_class=storage_class
            ),
        )
    except ValidationError as over:
        raise refuse(over.messages[0], over.code or "quota") from None


def _media_asset_ingest(
    *,
    owner,
    content_hash: str,
    fmt: str,
    width: int,
    height: int,
    byte_size: int,
    fields: dict,
    store: Callable[[str, str | None], object],
) -> MediaAsset:
    """What both upload paths do once the file has passed their checks: ``owner``'s asset with
    ``content_hash`` if there is one, else a new asset with processing queued after commit.

    ``store(key, storage_class)`` writes or copies the bytes to a fresh originals/ key; it runs
    before the row exists, so a row never points at a missing object. If the row cannot be
    created, the object is deleted again. Storage errors propagate.
    """
    existing = _media_asset_reuse(owner=owner, content_hash=content_hash)
    if existing is not None:
        return existing
    media_quota_check(owner=owner, adding=byte_size)
    key = storage.original_key_new(fmt=fmt)
    tier = _original_tier()
    try:
        store(key, _write_class(tier))
    except Exception:
        # A write that failed half-way (a full disk, a dropped connection) leaves no partial file.
        with contextlib.suppress(Exception):
            storage.delete_keys(keys=[key], all_versions=True)
        raise
    is_video = fields["kind"] == MediaAsset.Kind.VIDEO
    try:
        with transaction.atomic():
            asset = MediaAsset.objects.create(
                owner=owner,
                original_key=key,
                content_hash=content_hash,
                byte_size=byte_size,
                format=fmt,
                width=width,
                height=height,
                storage_tier=tier,
                **fields,
            )
            transaction.on_commit(lambda: _enqueue_processing(asset.pk, video=is_video))
    except IntegrityError:
        # The same bytes were stored by a concurrent upload of the same person a moment ago:
        # theirs is the asset (the constraint on owner and hash said so); ours goes.
        storage.delete_keys(keys=[key], all_versions=True)
        existing = _media_asset_reuse(owner=owner, content_hash=content_hash)
        if existing is None:
            raise
        return existing
    except Exception:
        # The row never existed, so nothing else will ever clean the object up.
        storage.delete_keys(keys=[key], all_versions=True)
        raise
    return asset


def media_quota_check(*, owner, adding: int) -> None:
    """Refuse ``adding`` more bytes of originals to ``owner``'s uploads when they would go over
    ``MEDIA_QUOTA_BYTES`` (0: no limit). Raises ValidationError (code ``quota``) saying how much
    is used; nothing is stored then."""
    quota = settings.MEDIA_QUOTA_BYTES
    if not quota:
        return
    with transaction.atomic():  # read on the writer: an upload of a moment ago counts
        used = (
            MediaAsset.objects.filter(owner=owner, released_at__isnull=True).aggregate(
                total=models.Sum("byte_size")
            )["total"]
            or 0
        )
    if used + adding > quota:
        raise ValidationError(
            f"Your uploads use {filesizeformat(used)} of your {filesizeformat(quota)}; "
            "delete some pins to upload more.",
            code="quota",
        )


def media_asset_sweep_unpublished(*, older_than: timedelta | None = None) -> int:
    """Release the assets no pin or avatar has used for ``older_than`` after their upload
    (default ``MEDIA_UNPUBLISHED_GRACE_HOURS``): their files are purged, every version, like a
    deleted pin's. Returns how many were released.

    Each one is released as ``media_asset_release`` does, under its row lock after checking
    again that nothing refers to it; rows another run holds are skipped until the next sweep.
    """
    if older_than is None:
        older_than = timedelta(hours=settings.MEDIA_UNPUBLISHED_GRACE_HOURS)
    unused = MediaAsset.objects.filter(
        released_at__isnull=True, created_at__lt=timezone.now() - older_than
    )
    for relation in _media_asset_protectors():
        model = cast(type[models.Model], relation.related_model)
        unused = unused.exclude(
            models.Exists(model._default_manager.filter(**{relation.field.name: OuterRef("pk")}))
        )
    released = 0
    for asset_id in list(unused.order_by("pk").values_list("pk", flat=True)[:500]):
        with transaction.atomic():
            asset = (
                MediaAsset.objects.select_for_update(skip_locked=True)
                .filter(pk=asset_id, released_at__isnull=True)
                .first()
            )
            if asset is not None and media_asset_release(asset=asset):
                released += 1
    if released:
        logger.info("released %d media asset(s) never published", released)
    return released


def upload_sweep(*, older_than: timedelta = timedelta(hours=1)) -> int:
    """Delete direct uploads never confirmed (their objects, then their rows); returns how many.

    No S3 call runs inside a transaction: a batch's objects are deleted first, then those of its
    rows still unconfirmed. Safe to run concurrently: deleting an object twice is harmless and
    each row goes once. An upload this old has an expired form, so nobody is still sending it.
    """
    cutoff = timezone.now() - older_than
    swept, after = 0, 0
    while True:
        with transaction.atomic():  # read on the writer
            batch = list(
                PendingUpload.objects.filter(
                    confirmed_at__isnull=True, expires_at__lt=cutoff, pk__gt=after
                )
                .order_by("pk")
                .values_list("pk", "key")[:100]
            )
        if not batch:
            break
        after = batch[-1][0]
        storage.delete_keys(keys=[key for _pk, key in batch], all_versions=True)
        with transaction.atomic():
            _total, by_model = PendingUpload.objects.filter(
                pk__in=[pk for pk, _key in batch], confirmed_at__isnull=True
            ).delete()
        swept += by_model.get(PendingUpload._meta.label, 0)
    # Confirmed rows are kept a while for idempotent re-confirmation, then dropped.
    PendingUpload.objects.filter(confirmed_at__lt=timezone.now() - timedelta(days=7)).delete()
    return swept


def _media_asset_reuse(*, owner, content_hash: str) -> MediaAsset | None:
    """``owner``'s asset with these bytes, if any. One released but not yet purged is taken back:
    clearing ``released_at`` under the row lock turns the pending purge into a no-op."""
    with transaction.atomic():
        asset = (
            MediaAsset.objects.select_for_update()
            .filter(owner=owner, content_hash=content_hash)
            .first()
        )
        if asset is not None and asset.released_at is not None:
            asset.released_at = None
            asset.save(update_fields=["released_at", "updated_at"])
    return asset


def _enqueue_processing(asset_id: int, *, video: bool = False) -> None:
    """Queue processing (a video gets the longer time limits a transcode needs). Runs after
    commit, so a broker that is down must not turn a saved upload into an error page: the asset
    stays pending and the sweeper queues it again later."""
    limits: dict[str, Any] = (
        {"soft_time_limit": tasks.VIDEO_SOFT_TIME_LIMIT, "time_limit": tasks.VIDEO_TIME_LIMIT}
        if video
        else {}
    )
    try:
        tasks.media_asset_process_task.apply_async(args=(asset_id,), **limits)
    except Exception:
        logger.warning(
            "could not queue processing of media asset %s; the stuck-media sweeper will",
            asset_id,
            exc_info=True,
        )


def _original_tier() -> str:
    """The storage class a new original is written in: what a receiver of
    ``original_tier_wanted`` answers (tiering), else STANDARD."""
    for _receiver, tier in signals.original_tier_wanted.send(sender=MediaAsset):
        if tier:
            return tier
    return StorageTier.STANDARD


def _write_class(tier: str) -> str | None:
    """The StorageClass to write an original with (None: the bucket's default, STANDARD)."""
    return tier if tier == StorageTier.INTELLIGENT_TIERING else None


# A run that finds the asset claimed by a run that died (its message came back, or its claim is
# older than the time limit) counts an interrupted run: the worker was killed, ran out of memory
# or hit its hard time limit. After this many the file is given up on, so a file that kills
# workers cannot be redelivered forever.
MAX_INTERRUPTED_RUNS = 3


def media_asset_time_limit(*, kind: str) -> int:
    """Seconds one processing run of an asset of ``kind`` may last (its task's hard limit)."""
    if kind == MediaAsset.Kind.VIDEO:
        return settings.MEDIA_VIDEO_TASK_TIME_LIMIT
    return settings.MEDIA_TASK_TIME_LIMIT


def media_asset_process(*, asset_id: int, run: str = "") -> MediaAsset | None:
    """Make whatever the asset lacks and mark it ready, or failed with a reason for its owner.

    Three steps, and no row lock or transaction is held while S3 is called or pixels decoded:
    claim (a short transaction marks the asset processing by ``run``, the task's id: a
    redelivered message has the same id), build (read the original, clean it (a versioned bucket
    keeps no uncleaned copy; HEIC/AVIF become a JPEG or PNG master), make only the missing
    renditions and write them under deterministic keys), then record (a short transaction writes
    the rows and marks the asset ready, only if the claim is still ``run``'s; otherwise another
    run took over and its result, the same bytes under the same keys, stands).

    Safe to run twice or concurrently: a second run finds the work done, or a live claim and
    raises MediaAssetBusy (the task retries). A claim is taken over when it is ``run``'s own (the
    message came back because its worker died) or older than the time limit. A file that is the
    problem marks the asset failed and removes the file; storage and database errors propagate
    (the task retries them) after the asset is put back to pending, and so does an original in an
    archive tier, whose restore is requested first. Returns None if the asset is gone.
    """
    run = run or uuid.uuid4().hex
    claimed = _media_asset_claim(asset_id=asset_id, run=run)
    if claimed is None:
        return None
    asset, existing = claimed
    if asset.status != MediaAsset.Status.PROCESSING or asset.build_token != run:
        return asset
    try:
        return _media_asset_build(asset, existing=existing, run=run)
    except BaseException as error:
        if isinstance(error, storage.ObjectArchived):
            # The original sits in an archive tier: restore it; the task retries later.
            signals.original_archived.send(sender=MediaAsset, asset_id=asset_id)
        # Back to pending, so the retry does not count as an interrupted run.
        try:
            MediaAsset.objects.filter(
                pk=asset_id, status=MediaAsset.Status.PROCESSING, build_token=run
            ).update(
                status=MediaAsset.Status.PENDING,
                build_token="",
                build_started_at=None,
                updated_at=timezone.now(),
            )
        except Exception:
            logger.warning("could not put media asset %s back to pending", asset_id, exc_info=True)
        raise


def _media_asset_locked(asset_id: int) -> MediaAsset | None:
    """The asset under its row lock (call inside a transaction); None if it is gone. The lock is
    held only for a few queries (no S3 call), so waiting for it is short."""
    return MediaAsset.objects.select_for_update().filter(pk=asset_id).first()


def _media_asset_wanted(asset: MediaAsset) -> set[tuple[str, int, str]]:
    """Every (purpose, width, format) the asset should have at its stored size."""
    if not asset.width or not asset.height:
        return set()
    if asset.kind == MediaAsset.Kind.VIDEO:
        return video.rendition_set(asset.width, asset.height)
    return images.rendition_set(asset.width)


def _media_asset_claim(
    *, asset_id: int, run: str
) -> tuple[MediaAsset, set[tuple[str, int, str]]] | None:
    """Claim the asset for ``run`` (short transaction); returns it with the renditions it has.
    The asset comes back unclaimed when there is nothing to do (failed, or ready and complete)."""
    now = timezone.now()
    with transaction.atomic():
        asset = _media_asset_locked(asset_id)
        if asset is None or asset.released_at is not None:
            return None
        existing = set(asset.renditions.values_list("purpose", "width", "format"))
        if asset.status == MediaAsset.Status.FAILED:
            return asset, existing  # final until someone asks for a rebuild
        wanted = _media_asset_wanted(asset)
        if asset.status == MediaAsset.Status.READY and wanted and wanted <= existing:
            return asset, existing
        if asset.status == MediaAsset.Status.PROCESSING:
            limit = timedelta(seconds=media_asset_time_limit(kind=asset.kind))
            alive = asset.build_started_at is not None and asset.build_started_at > now - limit
            if asset.build_token not in ("", run) and alive:
                raise MediaAssetBusy(asset_id)
            # The claim's run died: its message came back to us, or it outlived any run.
            asset.interrupted_runs += 1
            if asset.interrupted_runs >= MAX_INTERRUPTED_RUNS:
                logger.error(
                    "media asset %s stopped %d runs; giving up", asset_id, asset.interrupted_runs
                )
                _media_asset_mark_failed(
                    asset,
                    "Processing this file stopped the worker repeatedly, so it was given up.",
                )
                return asset, existing
        asset.status = MediaAsset.Status.PROCESSING
        asset.build_token, asset.build_started_at = run, now
        asset.save(
            update_fields=[
                "status",
                "build_token",
                "build_started_at",
                "interrupted_runs",
                "updated_at",
            ]
        )
    return asset, existing


def _media_asset_build(
    asset: MediaAsset, *, existing: set[tuple[str, int, str]], run: str
) -> MediaAsset | None:
    """Build outside any transaction (the claim is ``run``'s), then record. A run that stops
    half-way leaves objects under the same deterministic keys the next run overwrites."""
    try:
        data = storage.read_bytes(key=asset.original_key)
    except FileNotFoundError:
        reason = (
            asset.failure_reason
            or "The uploaded file is no longer stored, so it cannot be processed."
        )
        return _media_asset_record_failure(asset.pk, run=run, reason=reason, drop_files=False)
    result: images.ProcessedImage | video.ProcessedVideo
    master: bytes | None = None
    try:
        if asset.kind == MediaAsset.Kind.VIDEO:
            result = video.process_video(data, skip=existing)
            # A direct upload is stored as sent: its location and camera tags go now.
            cleaned = video.clean_original(data, info=result.info)
            master, master_format = (cleaned if cleaned != data else None), result.info.format
        else:
            result = images.process_image(data, skip=existing)
            master, master_format = result.master, result.master_format
    except images.MediaRejected as rejected:
        logger.info("media asset %s rejected by the worker: %s", asset.pk, rejected.code)
        return _media_asset_record_failure(asset.pk, run=run, reason=str(rejected), drop_files=True)

    master_key = None
    if master is not None:
        master_key = storage.original_key_with_format(key=asset.original_key, fmt=master_format)
        storage.put_bytes(
            key=master_key,
            data=master,
            fmt=master_format,
            storage_class=_write_class(asset.storage_tier),
        )
        storage.purge_old_versions(key=master_key)  # the uncleaned bytes, when the key is the same
    made = []
    for item in result.renditions:
        key = storage.rendition_key(
            original_key=asset.original_key, purpose=item.purpose, width=item.width, fmt=item.format
        )
        storage.put_bytes(key=key, data=item.data, fmt=item.format)
        made.append((item, key))
    return _media_asset_record(
        asset.pk,
        run=run,
        result=result,
        master=(master_key, master_format, len(master)) if master_key and master else None,
        made=made,
    )


def _media_asset_record(
    asset_id: int,
    *,
    run: str,
    result: images.ProcessedImage | video.ProcessedVideo,
    master: tuple[str, str, int] | None,
    made: list,
) -> MediaAsset | None:
    """Record a build (short transaction) if the claim is still ``run``'s; then delete what the
    recorded state no longer uses. A build for an asset released meanwhile is deleted."""
    doomed: list[str] = []
    with transaction.atomic():
        asset = _media_asset_locked(asset_id)
        if asset is None or asset.released_at is not None:
            # Released meanwhile: its purge deletes what its rows name; what this run wrote goes
            # here (a cleaned original under the asset's own key stays until the purge).
            kept = asset.original_key if asset is not None else None
            doomed = [key for _item, key in made]
            doomed += [master[0]] if master and master[0] != kept else []
            asset = None
        elif asset.status != MediaAsset.Status.PROCESSING or asset.build_token != run:
            logger.info("media asset %s was taken over by another run; result dropped", asset_id)
            return asset
        else:
            if master is not None:
                master_key, master_format, master_bytes = master
                if master_key != asset.original_key:
                    doomed.append(asset.original_key)
                if (
                    _write_class(asset.storage_tier) is None
                    and asset.storage_tier != StorageTier.STANDARD
                ):
                    # A rewrite lands in STANDARD; the next tiering sweep decides again.
                    asset.storage_tier, asset.tier_changed_at = StorageTier.STANDARD, timezone.now()
                asset.original_key, asset.format = master_key, master_format
                asset.byte_size = master_bytes
            if isinstance(result, video.ProcessedVideo):
                asset.duration_ms = result.info.duration_ms
            asset.width, asset.height = result.info.width, result.info.height
            asset.format = result.info.format
            for item, key in made:
                MediaRendition.objects.update_or_create(
                    asset=asset,
                    purpose=item.purpose,
                    width=item.width,
                    format=item.format,
                    defaults={"height": item.height, "key": key, "byte_size": len(item.data)},
                )
            # Renditions of a ladder the image no longer has (its real size differed from the
            # header).
            wanted = _media_asset_wanted(asset)
            stale = [
                r for r in asset.renditions.all() if (r.purpose, r.width, r.format) not in wanted
            ]
            if stale:
                MediaRendition.objects.filter(pk__in=[r.pk for r in stale]).delete()
                doomed += [r.key for r in stale]
            asset.dominant_color = result.color
            asset.placeholder = result.placeholder
            asset.status = MediaAsset.Status.READY
            asset.failure_reason = ""
            asset.interrupted_runs = 0
            asset.build_token, asset.build_started_at = "", None
            asset.processed_at = timezone.now()
            asset.save()
    storage.delete_keys(keys=doomed, all_versions=True)
    if asset is None:
        return None
    for _item, key in made:
        # A killed run's partial writes of the same key, and the delete marker put_bytes left.
        storage.purge_old_versions(key=key)
    return asset


def _media_asset_mark_failed(asset: MediaAsset, reason: str) -> None:
    asset.status = MediaAsset.Status.FAILED
    asset.failure_reason = reason
    asset.build_token, asset.build_started_at = "", None
    asset.save(
        update_fields=[
            "status",
            "failure_reason",
            "interrupted_runs",
            "build_token",
            "build_started_at",
            "updated_at",
        ]
    )


def _media_asset_record_failure(
    asset_id: int, *, run: str, reason: str, drop_files: bool
) -> MediaAsset | None:
    """Fail the asset with ``reason`` if the claim is still ``run``'s. ``drop_files``: the file
    itself is unacceptable, so none of its bytes are kept (every version)."""
    keys: list[str] = []
    with transaction.atomic():
        asset = _media_asset_locked(asset_id)
        if asset is None:
            return None
        if asset.status != MediaAsset.Status.PROCESSING or asset.build_token != run:
            return asset
        if drop_files:
            keys = [asset.original_key, *asset.renditions.values_list("key", flat=True)]
            asset.renditions.all().delete()
        _media_asset_mark_failed(asset, reason)
    storage.delete_keys(keys=keys, all_versions=True)
    if drop_files:
        storage.delete_folder(prefix=storage.rendition_folder(original_key=keys[0]))
    return asset


def media_asset_fail(*, asset_id: int, reason: str) -> MediaAsset | None:
    """Mark an asset failed with ``reason`` unless it is ready (e.g. its run hit the time limit).
    Keeps the original, so staff can rebuild it later."""
    with transaction.atomic():
        asset = MediaAsset.objects.select_for_update().filter(pk=asset_id).first()
        if asset is None or asset.status == MediaAsset.Status.READY:
            return asset
        _media_asset_mark_failed(asset, reason)
    return asset


def media_asset_rebuild(*, asset_ids: list[int]) -> int:
    """Remake the renditions of these assets from their originals (staff), in the background.

    Their rendition rows go now; the worker writes every rendition again under the same keys.
    Objects of renditions the new ladder will not have are deleted after the commit. Returns how
    many assets were queued (released ones are skipped).
    """
    queued: list[tuple[int, bool]] = []
    orphaned: list[str] = []
    with transaction.atomic():
        assets = MediaAsset.objects.select_for_update().filter(
            pk__in=asset_ids, released_at__isnull=True
        )
        for asset in assets:
            wanted = _media_asset_wanted(asset)
            for rendition in asset.renditions.all():
                if (rendition.purpose, rendition.width, rendition.format) not in wanted:
                    orphaned.append(rendition.key)
            asset.renditions.all().delete()
            asset.status = MediaAsset.Status.PENDING
            asset.interrupted_runs = 0
            asset.build_token, asset.build_started_at = "", None
            asset.save(
                update_fields=[
                    "status",
                    "interrupted_runs",
                    "build_token",
                    "build_started_at",
                    "updated_at",
                ]
            )
            queued.append((asset.pk, asset.kind == MediaAsset.Kind.VIDEO))
        if orphaned:
            transaction.on_commit(lambda: storage.delete_keys(keys=orphaned))

        def enqueue() -> None:
            for pk, v in queued:
                _enqueue_processing(pk, video=v)

        transaction.on_commit(enqueue)
    return len(queued)


def media_asset_sweep_stuck(*, older_than: timedelta | None = None) -> int:
    """Queue again the assets left pending or processing for longer than ``older_than`` (a
    broker outage lost their message, or a worker died); returns how many.

    By default the threshold is the time limit of a run of the asset's kind: a claim older than
    that belongs to a dead run, and the queued run takes it over (see ``media_asset_process``).
    Each one queued is touched, so it is not queued again before another threshold has passed.
    """
    now = timezone.now()
    if older_than is None:
        recent = Q()
        for kind in MediaAsset.Kind:
            limit = timedelta(seconds=media_asset_time_limit(kind=kind))
            recent |= Q(kind=kind, updated_at__lt=now - limit)
    else:
        recent = Q(updated_at__lt=now - older_than)
    with transaction.atomic():
        stuck = list(
            MediaAsset.objects.select_for_update(skip_locked=True)
            .filter(
                recent,
                status__in=[MediaAsset.Status.PENDING, MediaAsset.Status.PROCESSING],
                released_at__isnull=True,
            )
            .order_by("updated_at")
            .values_list("pk", "kind")[:500]
        )
        ids = [pk for pk, _kind in stuck]
        MediaAsset.objects.filter(pk__in=ids).update(updated_at=now)

        def enqueue() -> None:
            for pk, kind in stuck:
                _enqueue_processing(pk, video=kind == "video")

        transaction.on_commit(enqueue)
    if ids:
        logger.info("queued %d stuck media asset(s) again", len(ids))
    return len(ids)


def media_asset_release(*, asset: MediaAsset) -> bool:
    """Schedule deletion of ``asset`` if nothing refers to it any more; True if it was released.

    Call inside a transaction, after removing a reference; it takes the asset's row lock so a
    concurrent new reference (a save) and the release cannot interleave.
    """
    asset = MediaAsset.objects.select_for_update().get(pk=asset.pk)
    if _media_asset_referenced(asset):
        return False
    asset.released_at = timezone.now()
    asset.save(update_fields=["released_at", "updated_at"])
    asset_id = asset.pk
    transaction.on_commit(lambda: _enqueue_purge(asset_id))
    return True


def _media_asset_referenced(asset: MediaAsset) -> bool:
    """Whether any row still protects ``asset`` (a pin, an avatar: every PROTECT foreign key to
    it, found from the models, so media needs to know none of the apps that point at it)."""
    for relation in _media_asset_protectors():
        manager = cast(type[models.Model], relation.related_model)._default_manager  # resolved
        if manager.filter(**{relation.field.name: asset}).exists():
            return True
    return False


def _media_asset_protectors() -> list[ForeignObjectRel]:
    """The reverse sides of every PROTECT foreign key to MediaAsset (pins, avatars)."""
    found = []
    for relation in MediaAsset._meta.get_fields(include_hidden=True):
        if relation.auto_created and getattr(relation, "on_delete", None) is models.PROTECT:
            assert isinstance(relation, ForeignObjectRel)  # a PROTECT foreign key's reverse side
            found.append(relation)
    return found


def _enqueue_purge(asset_id: int) -> None:
    """Runs after commit: a broker that is down must not turn the committed delete into an error
    page. The asset stays released (hidden from every page) and its files wait for a later purge."""
    try:
        tasks.media_asset_purge_task.delay(asset_id)
    except Exception:
        logger.warning("could not queue the purge of media asset %s", asset_id, exc_info=True)


def media_asset_purge(*, asset_id: int) -> bool:
    """Delete a released asset's files (every version), then its row. Re-runnable; False if
    there was nothing to do.

    No S3 call runs in a transaction: a short one first detaches the asset from its content hash,
    so an upload of the same bytes can no longer take it back (it makes a new asset instead);
    then the objects go; then the row.
    """
    with transaction.atomic():
        asset = (
            MediaAsset.objects.select_for_update()
            .filter(pk=asset_id, released_at__isnull=False)
            .first()
        )
        if asset is None:
            return False
        if _media_asset_referenced(asset):
            # Used again since its release (published at the last moment): it stays.
            asset.released_at = None
            asset.save(update_fields=["released_at", "updated_at"])
            return False
        if asset.content_hash:
            asset.content_hash = ""
            asset.save(update_fields=["content_hash", "updated_at"])
        keys = [asset.original_key, *asset.renditions.values_list("key", flat=True)]
    storage.delete_keys(keys=keys, all_versions=True)
    # And what no row names: renditions a killed run wrote but never recorded.
    storage.delete_folder(prefix=storage.rendition_folder(original_key=keys[0]))
    with transaction.atomic():
        MediaAsset.objects.filter(pk=asset_id, released_at__isnull=False).delete()
    logger.info("purged media asset %s (%d objects)", asset_id, len(keys))
    return True
