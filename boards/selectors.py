"""Reads for boards."""

from __future__ import annotations

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Lower

from boards.models import Board, BoardCollaborator, BoardFollow
from pinsite.search import all_words_query


def board_get_visible(*, user, username: str, slug: str) -> Board:
    """The board if ``user`` may see it; Board.DoesNotExist otherwise (a 404).

    Annotated, in the same query, with ``viewer_follows`` and ``viewer_is_member`` (whether
    ``user`` follows it and collaborates on it; False for visitors).
    """
    queryset = Board.objects.visible_to(user).select_related("owner")
    if user is not None and user.is_authenticated:
        queryset = queryset.annotate(
            viewer_follows=Exists(BoardFollow.objects.filter(follower=user, board=OuterRef("pk"))),
            viewer_is_member=Exists(
                BoardCollaborator.objects.filter(user=user, board=OuterRef("pk"))
            ),
        )
    else:
        queryset = queryset.annotate(viewer_follows=Value(False), viewer_is_member=Value(False))
    return queryset.get(owner__username__iexact=username, slug=slug)


def board_list_for_owner(*, user, owner, limit: int | None = None) -> list[Board]:
    """``owner``'s boards that ``user`` may see, newest first (the first ``limit`` of them)."""
    boards = (
        Board.objects.visible_to(user)
        .filter(owner=owner)
        .select_related("owner")  # each board's URL names its owner
        .only("id", "name", "slug", "is_secret", "created_at", "owner__id", "owner__username")
        .order_by("-created_at", "-id")
    )
    return list(boards[:limit] if limit is not None else boards)


def board_list_for_pin(*, user, pin) -> list[Board]:
    """The boards ``pin`` is on that ``user`` may see."""
    return list(
        Board.objects.visible_to(user)
        .filter(placements__pin=pin)
        .select_related("owner")
        .order_by("name")
    )


def board_pinnable(*, user) -> QuerySet[Board]:
    """Boards ``user`` may add pins to (their own and group boards they were invited to), by name."""
    if not user.is_authenticated:
        return Board.objects.none()
    # A UNION of two index scans: "owner is user OR in their invitations" made PostgreSQL test
    # every board (9 ms over 50k boards, on every pin page a signed-in person opens).
    own = Board.objects.filter(owner=user).values("pk")
    invited = BoardCollaborator.objects.filter(user=user).values("board_id")
    return (
        Board.objects.filter(pk__in=own.union(invited))
        .select_related("owner")
        .order_by(Lower("name"), "id")
    )


def board_list_pinnable(*, user) -> list[Board]:
    return list(board_pinnable(user=user))


def board_search(*, user, query: str, limit: int = 12) -> list[Board]:
    """Boards ``user`` may see whose name or description holds every word of ``query``."""
    from pins.selectors import search_words

    boards = Board.objects.visible_to(user)
    words = search_words(query)
    if not words:
        return []
    if connection.vendor == "postgresql":
        # Full text, as pin search: the stored, GIN-indexed document (a LIKE per word read
        # every board, 25 ms over 50k boards).
        boards = boards.filter(search_document=all_words_query(words))
    else:
        for word in words:
            boards = boards.filter(Q(name__icontains=word) | Q(description__icontains=word))
    return list(boards.select_related("owner").order_by(Lower("name"), "id")[:limit])
