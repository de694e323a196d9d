"""Which cached pages a change to a board, its members or its followers retires
(``pinsite.page_cache`` stamps). Connected in ``BoardsConfig.ready()``."""

from __future__ import annotations

from boards.models import Board, BoardCollaborator, BoardFollow
from pinsite import page_cache

_BOARD_GATE = ("is_secret", "owner_id")  # what the visibility gate reads from the board


def _before_board(sender, instance, using=None, update_fields=None, **kwargs) -> None:
    page_cache.remember_old_values(sender, instance, _BOARD_GATE, using, update_fields)


def _on_board(sender, instance, created=False, **kwargs) -> None:
    if created:
        page_cache.boards_changed()  # no pins yet, so no grid lists anything new
        return
    if page_cache.changed(instance, _BOARD_GATE):
        page_cache.visibility_changed()
        return
    page_cache.boards_changed(board_id=instance.pk)  # renamed: search matches board names


def _on_board_deleted(sender, instance, **kwargs) -> None:
    page_cache.visibility_changed()


def _on_membership(sender, instance, **kwargs) -> None:
    page_cache.visibility_changed()


def _on_follow_row(sender, instance, **kwargs) -> None:
    page_cache.follows_changed(user_id=instance.follower_id)


def connect() -> None:
    page_cache.connect(Board, before=_before_board, saved=_on_board, deleted=_on_board_deleted)
    page_cache.connect(BoardCollaborator, saved=_on_membership, deleted=_on_membership)
    page_cache.connect(BoardFollow, saved=_on_follow_row, deleted=_on_follow_row)
