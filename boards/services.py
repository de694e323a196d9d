"""Writes for boards: creating them and placing pins on them."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Min
from django.utils.text import slugify

from boards.models import POSITION_GAP, Board, BoardCollaborator, BoardFollow, BoardPin
from boards.signals import board_deleting
from pinsite import page_cache
from pinsite.bidi import bidi_controls_check


def _slug_free(*, owner, name: str) -> str:
    base = slugify(name, allow_unicode=True)[:100] or "board"
    taken = set(
        Board.objects.filter(owner=owner, slug__startswith=base).values_list("slug", flat=True)
    )
    slug, counter = base, 2
    while slug in taken:
        slug, counter = f"{base}-{counter}", counter + 1
    return slug


def _name_free(*, owner, name: str, exclude_pk: int | None = None) -> None:
    taken = Board.objects.filter(owner=owner, name__iexact=name).exclude(pk=exclude_pk)
    if taken.exists():
        raise ValidationError(
            {"name": f"You already have a board called “{name}”."}, code="duplicate_name"
        )


def board_create(*, owner, name: str, description: str = "", is_secret: bool = False) -> Board:
    """Create a board. Raises ValidationError if ``owner`` already has a board of that name, or
    for a text-direction control in the name or description."""
    bidi_controls_check(name=name, description=description)
    _name_free(owner=owner, name=name.strip())
    board = Board(
        owner=owner,
        name=name.strip(),
        description=description.strip(),
        is_secret=is_secret,
        slug=_slug_free(owner=owner, name=name.strip()),
    )
    board.full_clean()
    try:
        with transaction.atomic():
            board.save()
    except IntegrityError:
        # Another request made a board of this name (or slug) between the checks above and this
        # insert; the database's unique constraints decided. The same answer as the checks give.
        _name_free(owner=owner, name=board.name)
        board.slug = _slug_free(owner=owner, name=board.name)
        with transaction.atomic():
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


def board_update(*, board: Board, name: str, description: str, is_secret: bool) -> Board:
    """Rename or re-describe a board, or change its secrecy. ValidationError for a taken name
    or a text-direction control."""
    bidi_controls_check(name=name, description=description)
    name = name.strip()
    _name_free(owner=board.owner, name=name, exclude_pk=board.pk)
    if slugify(name, allow_unicode=True) != slugify(board.name, allow_unicode=True):
        board.slug = _slug_free(owner=board.owner, name=name)
    board.name, board.description, board.is_secret = name, description.strip(), is_secret
    board.full_clean()
    board.save()
    return board


def board_delete(*, board: Board) -> None:
    """Delete a board and the pins that are on no other board; media goes with its last reference.

    The pins are pins' to delete: it receives ``board_deleting`` (pins/receivers.py)."""
    with transaction.atomic():
        board_deleting.send(sender=Board, board=board)
        board.delete()


def board_collaborator_add(*, board: Board, user, invited_by) -> BoardCollaborator:
    """Let ``user`` add pins to ``board``. Only the owner manages members."""
    if invited_by.pk != board.owner_id:
        raise ValidationError("Only the board's owner can invite people.", code="not_owner")
    if user.pk == board.owner_id:
        raise ValidationError("You already own this board.", code="owner")
    member, _ = BoardCollaborator.objects.get_or_create(
        board=board, user=user, defaults={"invited_by": invited_by}
    )
    return member


def board_collaborator_remove(*, board: Board, user, removed_by) -> None:
    """Remove a collaborator (the owner may remove anyone; a collaborator may leave)."""
    if removed_by.pk not in (board.owner_id, user.pk):
        raise ValidationError("Only the board's owner can remove people.", code="not_owner")
    BoardCollaborator.objects.filter(board=board, user=user).delete()


def board_can_add_pins(*, board: Board, user) -> bool:
    return user.is_authenticated and (
        board.owner_id == user.pk or board.memberships.filter(user=user).exists()
    )


def board_pin_move(*, board: Board, pin_id: int, before_id: int | None) -> BoardPin:
    """Move a pin to just before ``before_id`` (None: to the end). Usually writes one row.

    When there is no gap left between the neighbours, the board is renumbered once. Raises
    BoardPin.DoesNotExist when ``pin_id`` or ``before_id`` is not on the board.
    """
    with transaction.atomic():
        Board.objects.select_for_update().filter(pk=board.pk).first()
        moving = BoardPin.objects.get(board=board, pin_id=pin_id)
        order: list[tuple[int, int | None]] = list(
            BoardPin.objects.filter(board=board)
            .exclude(pk=moving.pk)
            .order_by("position", "id")
            .values_list("pin_id", "position")
        )
        index = len(order)
        if before_id == pin_id:
            return moving  # just before itself is where it already is
        if before_id is not None:
            found = next((i for i, (pid, _) in enumerate(order) if pid == before_id), None)
            if found is None:
                # A stale client's unknown neighbour is refused, not read as "to the end".
                raise BoardPin.DoesNotExist("The pin to move before is not on this board.")
            index = found
        low = order[index - 1][1] if index > 0 else None
        high = order[index][1] if index < len(order) else None
        if low is None and high is None:
            position = 0
        elif low is None:
            assert high is not None
            position = high - POSITION_GAP
        elif high is None:
            position = low + POSITION_GAP
        elif high - low > 1:
            position = (low + high) // 2
        else:
            order.insert(index, (pin_id, None))
            for rank, (pid, _) in enumerate(order):
                BoardPin.objects.filter(board=board, pin_id=pid).update(
                    position=rank * POSITION_GAP
                )
            page_cache.board_changed(board_id=board.pk)  # update() sends no signals
            moving.refresh_from_db()
            return moving
        moving.position = position
        moving.save(update_fields=["position"])
        return moving


def board_follow(*, follower, board: Board) -> BoardFollow:
    follow, _ = BoardFollow.objects.get_or_create(follower=follower, board=board)
    return follow


def board_unfollow(*, follower, board: Board) -> None:
    BoardFollow.objects.filter(follower=follower, board=board).delete()
