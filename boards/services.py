"""Writes for boards: creating them and placing pins on them."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Min
from django.utils.text import slugify

from boards.models import POSITION_GAP, Board, BoardPin


def _slug_free(*, owner, name: str) -> str:
    base = slugify(name, allow_unicode=True)[:100] or "board"
    taken = set(
        Board.objects.filter(owner=owner, slug__startswith=base).values_list("slug", flat=True)
    )
    slug, counter = base, 2
    while slug in taken:
        slug, counter = f"{base}-{counter}", counter + 1
    return slug


def board_create(*, owner, name: str, description: str = "", is_secret: bool = False) -> Board:
    """Create a board. Raises ValidationError if ``owner`` already has a board of that name."""
    board = Board(
        owner=owner,
        name=name.strip(),
        description=description.strip(),
        is_secret=is_secret,
        slug=_slug_free(owner=owner, name=name.strip()),
    )
    board.full_clean()
    board.save()
    return board


def board_pin_add(*, board: Board, pin, added_by) -> BoardPin:
    """Put ``pin`` at the top of ``board``; adding it again returns the existing placement."""
    with transaction.atomic():
        # Lock the board so two concurrent adds cannot take the same top position.
        Board.objects.select_for_update().filter(pk=board.pk).first()
        existing = BoardPin.objects.filter(board=board, pin=pin).first()
        if existing is not None:
            return existing
        top = BoardPin.objects.filter(board=board).aggregate(top=Min("position"))["top"]
        position = 0 if top is None else top - POSITION_GAP
        return BoardPin.objects.create(board=board, pin=pin, position=position, added_by=added_by)
