"""Writes for pins and media. Views, admin actions, commands and tasks call these."""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from boards.models import Board
from boards.services import board_pin_add
from pins import media, storage
from pins.models import MediaAsset, MediaRendition, PendingUpload, Pin, PinReport

logger = logging.getLogger(__name__)


def media_asset_create(*, owner, data: bytes) -> MediaAsset:
    """Store an uploaded image and queue its processing; the same bytes twice give the same asset.

    Raises ValidationError (code from the check that failed) for anything that is not an
    acceptable image; nothing is stored then.
    """
    if len(data) > settings.MEDIA_MAX_UPLOAD_BYTES:
        raise ValidationError(
            f"This file is larger than {settings.MEDIA_MAX_UPLOAD_BYTES // (1024 * 1024)} MB.",
            code="too_large",
        )
    try:
        info = media.sniff_image(data)
    except media.MediaRejected as rejected:
        raise ValidationError(str(rejected), code=rejected.code) from None

    content_hash = hashlib.sha256(data).hexdigest()
    existing = _media_asset_reuse(owner=owner, content_hash=content_hash)
    if existing is not None:
        return existing

    key = storage.original_key_new(fmt=info.format)
    storage.put_bytes(key=key, data=data, fmt=info.format)
    try:
        with transaction.atomic():
            asset = MediaAsset.objects.create(
                owner=owner,
                kind=MediaAsset.Kind.IMAGE,
                original_key=key,
                content_hash=content_hash,
                byte_size=len(data),
                format=info.format,
                width=info.width,
                height=info.height,
            )
            transaction.on_commit(lambda: _enqueue_processing(asset.pk))
    except Exception:
        # The row never existed, so nothing else will ever clean the object up.
        storage.delete_keys(keys=[key])
        raise
    return asset


# --- Direct uploads to S3 --------------------------------------------------------------------

SNIFF_BYTES = 256 * 1024  # enough for the header of every allowed format, EXIF included


def upload_start(*, owner) -> tuple[PendingUpload, dict]:
    """Allow ``owner`` one direct upload: a server-chosen key under uploads/, and the presigned
    POST form (size range and image Content-Type conditions, short expiry) to send it with."""
    key = storage.upload_key_new(user_id=owner.pk)
    expires = settings.S3_UPLOAD_EXPIRY_SECONDS
    form = storage.presigned_post(
        key=key, max_bytes=settings.MEDIA_MAX_UPLOAD_BYTES, expires=expires
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
    """
    with transaction.atomic():
        pending = (
            PendingUpload.objects.select_for_update(of=("self",))
            .filter(pk=upload_id, owner=owner)
            .select_related("asset")
            .first()
        )
        if pending is None:
            raise ValidationError(
                "That upload is not yours or has expired. Upload the file again.",
                code="unknown_upload",
            )
        if pending.confirmed_at is not None:
            return pending.asset
        asset = _asset_from_upload(owner=owner, key=pending.key, max_bytes=pending.max_bytes)
        pending.confirmed_at = timezone.now()
        pending.asset = asset
        pending.save(update_fields=["confirmed_at", "asset"])
    storage.delete_keys(keys=[pending.key])
    return asset


def _asset_from_upload(*, owner, key: str, max_bytes: int) -> MediaAsset:
    def refuse(message: str, code: str) -> ValidationError:
        storage.delete_keys(keys=[key])
        return ValidationError(message, code=code)

    found = storage.head(key=key)
    if found is None:
        raise ValidationError("The file did not arrive. Upload it again.", code="missing_upload")
    if not 0 < found["size"] <= max_bytes:
        raise refuse(f"This file is larger than {max_bytes // (1024 * 1024)} MB.", "too_large")
    try:
        info = media.sniff_image(storage.read_range(key=key, length=SNIFF_BYTES))
    except media.MediaRejected as rejected:
        raise refuse(str(rejected), rejected.code) from None

    content_hash = storage.sha256_of(key=key)
    existing = _media_asset_reuse(owner=owner, content_hash=content_hash)
    if existing is not None:
        return existing
    target = storage.original_key_new(fmt=info.format)
    storage.copy(source=key, target=target, fmt=info.format)
    try:
        with transaction.atomic():
            asset = MediaAsset.objects.create(
                owner=owner,
                kind=MediaAsset.Kind.IMAGE,
                original_key=target,
                content_hash=content_hash,
                byte_size=found["size"],
                format=info.format,
                width=info.width,
                height=info.height,
            )
            transaction.on_commit(lambda: _enqueue_processing(asset.pk))
    except Exception:
        storage.delete_keys(keys=[target])
        raise
    return asset


def upload_sweep(*, older_than: timedelta = timedelta(hours=1)) -> int:
    """Delete direct uploads never confirmed (their objects, then their rows); returns how many.

    Safe to run concurrently: each row is locked and skipped if another sweeper holds it.
    """
    cutoff = timezone.now() - older_than
    swept = 0
    while True:
        with transaction.atomic():
            batch = list(
                PendingUpload.objects.select_for_update(skip_locked=True)
                .filter(confirmed_at__isnull=True, expires_at__lt=cutoff)
                .order_by("pk")[:100]
            )
            if not batch:
                break
            storage.delete_keys(keys=[p.key for p in batch])
            PendingUpload.objects.filter(pk__in=[p.pk for p in batch]).delete()
            swept += len(batch)
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


def _enqueue_processing(asset_id: int) -> None:
    from pins.tasks import media_asset_process_task

    media_asset_process_task.delay(asset_id)


def media_asset_process(*, asset_id: int) -> MediaAsset | None:
    """Make whatever renditions the asset lacks and mark it ready (or failed, with a reason).

    Safe to run twice or concurrently: the row lock serialises runs, and only missing
    renditions are built, under deterministic keys. Returns None if the asset is gone.
    """
    with transaction.atomic():
        asset = MediaAsset.objects.select_for_update().filter(pk=asset_id).first()
        if asset is None or asset.released_at is not None:
            return None
        existing = set(asset.renditions.values_list("purpose", "width"))
        complete = asset.width and set(media.ladder(asset.width)) <= existing
        if asset.status == MediaAsset.Status.READY and complete:
            return asset

        try:
            data = storage.read_bytes(key=asset.original_key)
            info, color, rendered = media.render_ladder(data, skip=existing)
        except media.MediaRejected as rejected:
            asset.status = MediaAsset.Status.FAILED
            asset.failure_reason = str(rejected)
            asset.save(update_fields=["status", "failure_reason", "updated_at"])
            return asset

        for item in rendered:
            key = storage.rendition_key(
                original_key=asset.original_key,
                purpose=item.purpose,
                width=item.width,
                fmt=item.format,
            )
            storage.put_bytes(key=key, data=item.data, fmt=item.format)
            MediaRendition.objects.update_or_create(
                asset=asset,
                purpose=item.purpose,
                width=item.width,
                format=item.format,
                defaults={"height": item.height, "key": key, "byte_size": len(item.data)},
            )
        asset.width, asset.height, asset.format = info.width, info.height, info.format
        asset.dominant_color = color
        asset.status = MediaAsset.Status.READY
        asset.failure_reason = ""
        asset.processed_at = timezone.now()
        asset.save()
    return asset


def pin_create(
    *,
    owner,
    media_asset: MediaAsset,
    board: Board,
    title: str = "",
    description: str = "",
    alt_text: str = "",
    source_url: str = "",
    parent: Pin | None = None,
) -> Pin:
    """Create a pin on ``board``. Raises ValidationError for bad fields (e.g. a javascript: link)."""
    pin = Pin(
        owner=owner,
        media=media_asset,
        title=title.strip(),
        description=description.strip(),
        alt_text=alt_text.strip(),
        source_url=source_url.strip(),
        parent=parent,
    )
    pin.full_clean()
    with transaction.atomic():
        pin.save()
        board_pin_add(board=board, pin=pin, added_by=owner)
    return pin


def _board_check_can_add(*, board: Board, user) -> None:
    from boards.services import board_can_add_pins

    if not board_can_add_pins(board=board, user=user):
        raise ValidationError(
            {
                "board": "You can only add pins to your own boards and group boards you were invited to."
            },
            code="not_member",
        )


def pin_publish(
    *,
    owner,
    media_asset: MediaAsset,
    board: Board,
    title: str = "",
    description: str = "",
    alt_text: str = "",
    source_url: str = "",
) -> Pin:
    """Publish an uploaded asset as a pin on a board ``owner`` may add to."""
    _board_check_can_add(board=board, user=owner)
    return pin_create(
        owner=owner,
        media_asset=media_asset,
        board=board,
        title=title,
        description=description,
        alt_text=alt_text,
        source_url=source_url,
    )


def pin_save(*, user, pin: Pin, board: Board) -> Pin:
    """Save someone's pin to one of ``user``'s boards: a new pin, same media, lineage kept.

    Raises ValidationError when ``user`` may not add to ``board`` or the image is already on it.
    """
    _board_check_can_add(board=board, user=user)
    if board.placements.filter(pin__media_id=pin.media_id).exists():
        raise ValidationError(
            {"board": f"This image is already on “{board.name}”."}, code="already_saved"
        )
    return pin_create(
        owner=user,
        media_asset=pin.media,
        board=board,
        title=pin.title,
        description=pin.description,
        alt_text=pin.alt_text,
        source_url=pin.source_url,
        parent=pin,
    )


def pin_report_create(*, pin: Pin, reporter, reason: str, detail: str = "") -> PinReport:
    """File a report for the staff queue; a second open report by the same person updates the first."""
    report, created = PinReport.objects.get_or_create(
        pin=pin,
        reporter=reporter,
        status=PinReport.Status.OPEN,
        defaults={"reason": reason, "detail": detail.strip()},
    )
    if not created:
        report.reason, report.detail = reason, detail.strip()
        report.save(update_fields=["reason", "detail"])
    return report


def pin_moderate(*, pin_ids: list[int], state: str, note: str = "") -> int:
    """Set the moderation state of pins (staff); returns how many changed."""
    if state not in Pin.Moderation.values:
        raise ValidationError(f"Unknown moderation state {state!r}.", code="invalid_state")
    changes = {"moderation_state": state, "updated_at": timezone.now()}
    if note:
        changes["moderation_note"] = note
    return Pin.objects.filter(pk__in=pin_ids).exclude(moderation_state=state).update(**changes)


def pin_delete(*, pin: Pin) -> None:
    """Delete a pin; its media goes only with the last pin or profile that uses it."""
    with transaction.atomic():
        asset = MediaAsset.objects.select_for_update().get(pk=pin.media_id)
        pin.delete()
        media_asset_release(asset=asset)


def media_asset_release(*, asset: MediaAsset) -> bool:
    """Schedule deletion of ``asset`` if nothing refers to it any more; True if it was released.

    Call inside a transaction, after removing a reference; it takes the asset's row lock so a
    concurrent new reference (a save) and the release cannot interleave.
    """
    from accounts.models import Profile

    asset = MediaAsset.objects.select_for_update().get(pk=asset.pk)
    if asset.pins.exists() or Profile.objects.filter(avatar=asset).exists():
        return False
    asset.released_at = timezone.now()
    asset.save(update_fields=["released_at", "updated_at"])
    asset_id = asset.pk
    transaction.on_commit(lambda: _enqueue_purge(asset_id))
    return True


def _enqueue_purge(asset_id: int) -> None:
    from pins.tasks import media_asset_purge_task

    media_asset_purge_task.delay(asset_id)


def media_asset_purge(*, asset_id: int) -> bool:
    """Delete a released asset's files, then its row. Re-runnable; False if there was nothing to do."""
    with transaction.atomic():
        asset = (
            MediaAsset.objects.select_for_update()
            .filter(pk=asset_id, released_at__isnull=False)
            .first()
        )
        if asset is None:
            return False
        keys = [asset.original_key, *asset.renditions.values_list("key", flat=True)]
        storage.delete_keys(keys=keys)
        asset.delete()
    logger.info("purged media asset %s (%d objects)", asset_id, len(keys))
    return True
