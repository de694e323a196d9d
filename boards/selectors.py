"""Reads for boards."""

from __future__ import annotations

from boards.models import Board


def board_get_visible(*, user, username: str, slug: str) -> Board:
    """The board if ``user`` may see it; Board.DoesNotExist otherwise (a 404)."""
    return (
        Board.objects.visible_to(user)
        .select_related("owner")
        .get(owner__username__iexact=username, slug=slug)
    )


def board_list_for_owner(*, user, owner) -> list[Board]:
    """``owner``'s boards that ``user`` may see, newest first."""
    return list(Board.objects.visible_to(user).filter(owner=owner).order_by("-created_at", "-id"))


def board_list_for_pin(*, user, pin) -> list[Board]:
    """The boards ``pin`` is on that ``user`` may see."""
    return list(
        Board.objects.visible_to(user)
        .filter(placements__pin=pin)
        .select_related("owner")
        .order_by("name")
    )
