"""Reads for pins. Every query goes through ``Pin.objects.visible_to``."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from pins.models import MediaRendition, Pin


def _with_media(queryset: QuerySet[Pin]) -> QuerySet[Pin]:
    return queryset.select_related("media", "owner").prefetch_related(
        Prefetch("media__renditions", queryset=MediaRendition.objects.order_by("width"))
    )


def pin_list_recent(*, user, limit: int = 50) -> list[Pin]:
    """The newest pins ``user`` may see, newest first."""
    queryset = Pin.objects.visible_to(user).order_by("-created_at", "-id")
    return list(_with_media(queryset)[:limit])


def pin_get_visible(*, user, pk: int) -> Pin:
    """The pin if ``user`` may see it; Pin.DoesNotExist otherwise (shown as 404, never 403)."""
    return _with_media(Pin.objects.visible_to(user)).select_related("parent__owner").get(pk=pk)


def pin_list_for_board(*, user, board, limit: int = 200) -> list[Pin]:
    """The pins on ``board`` that ``user`` may see, in the board's order."""
    queryset = (
        Pin.objects.visible_to(user)
        .filter(placements__board=board)
        .order_by("placements__position", "placements__id")
    )
    return list(_with_media(queryset)[:limit])
