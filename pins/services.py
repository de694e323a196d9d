"""Writes for pins and images. Views, admin actions, commands and tasks call these."""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from boards.models import Board
from boards.services import board_can_add_pins, board_pin_add
from media.models import MediaAsset
from media.services import media_asset_release
from pins.models import Pin, PinReport
from pinsite import page_cache
from pinsite.bidi import bidi_controls_check

logger = logging.getLogger(__name__)


# --- Direct uploads to S3 --------------------------------------------------------------------


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
    """Create a pin on ``board``. Raises ValidationError for bad fields (e.g. a javascript: link,
    a text-direction control in the title)."""
    bidi_controls_check(title=title, description=description, alt_text=alt_text)
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
    bidi_controls_check(detail=detail)
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
    changed = Pin.objects.filter(pk__in=pin_ids).exclude(moderation_state=state).update(**changes)
    page_cache.visibility_changed()  # update() sends no signals
    return changed


# --- Tiering: staff choices ------------------------------------------------------------------


def pin_delete(*, pin: Pin) -> None:
    """Delete a pin; its media goes only with the last pin or profile that uses it."""
    with transaction.atomic():
        asset = MediaAsset.objects.select_for_update().get(pk=pin.media_id)
        pin.delete()
        media_asset_release(asset=asset)
