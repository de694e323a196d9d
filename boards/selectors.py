"""Reads for boards."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet, Value
from django.db.models.functions import Lower

from boards.models import Board, BoardCollaborator, BoardFollow
from pinsite import page_cache
from pinsite.db.compiled import shape, stand_in_user
from pinsite.search import matching_all, search_words


def _viewer(values: dict):
    """The viewer a compiled query was built for: a stand-in user, or None when signed out."""
    return stand_in_user(values["viewer"]) if "viewer" in values else None


def _viewer_values(user) -> dict:
    return {"viewer": user.pk} if user is not None and user.is_authenticated else {}


def _gated_boards(key: str, *, user, refine, texts=(), limit=None, **values) -> list[Board]:
    """``Board.objects.visible_to(user)`` with owners, narrowed by ``refine(queryset, values)``,
    as one compiled query (``pinsite.db.compiled``): building the gate cost more than running it.
    ``values`` are the query's own (lists of ids are passed as arrays); ``limit`` is part of
    the shape."""
    viewing = _viewer_values(user)

    def build(stand_ins):
        boards = Board.objects.visible_to(_viewer(stand_ins)).select_related("owner")
        boards = refine(boards, stand_ins)
        return boards[:limit] if limit is not None else boards

    compiled = shape(
        (key, bool(viewing), limit),
        build,
        values=[*viewing, *values],
        lists=[name for name, value in values.items() if isinstance(value, list)],
        texts=texts,
    )
    return compiled.objects(Board, **viewing, **values)


def board_get_visible(*, user, username: str, slug: str) -> Board:
    """The board if ``user`` may see it; Board.DoesNotExist otherwise (a 404).

    Annotated, in the same query, with ``viewer_follows`` and ``viewer_is_member`` (whether
    ``user`` follows it and collaborates on it; False for visitors). One compiled query
    (``pinsite.db.compiled``): building the gate and annotations cost more than running them.
    """
    viewing = _viewer_values(user)

    def build(values):
        viewer = _viewer(values)
        queryset = Board.objects.visible_to(viewer).select_related("owner")
        if viewer is not None:
            queryset = queryset.annotate(
                viewer_follows=Exists(
                    BoardFollow.objects.filter(follower=viewer, board=OuterRef("pk"))
                ),
                viewer_is_member=Exists(
                    BoardCollaborator.objects.filter(user=viewer, board=OuterRef("pk"))
                ),
            )
        else:
            queryset = queryset.annotate(viewer_follows=Value(False), viewer_is_member=Value(False))
        # LOWER on both sides (the unique index on people is on lower(username)). Not iexact:
        # on SQLite that is a LIKE whose value Django escapes when compiling, and a compiled
        # query's later values are not (a "_" in a name would match any character).
        return queryset.alias(owner_name=Lower("owner__username")).filter(
            owner_name=Lower(Value(values["username"])), slug=values["slug"]
        )

    names = [*viewing, "username", "slug"]
    found = shape(
        ("board", bool(viewing)), build, values=names, texts=["username", "slug"]
    ).objects(Board, **viewing, username=username, slug=slug)
    if not found:
        raise Board.DoesNotExist(f"No board {username}/{slug} visible here")
    return found[0]


def board_list_for_owner(*, user, owner, limit: int | None = None) -> list[Board]:
    """``owner``'s boards that ``user`` may see, newest first (the first ``limit`` of them)."""
    return _gated_boards(
        "owner-boards",
        user=user,
        limit=limit,
        owner=owner.pk,
        refine=lambda boards, values: (
            boards.filter(owner=values["owner"])
            # each board's URL names its owner
            .only("id", "name", "slug", "is_secret", "created_at", "owner__id", "owner__username")
            .order_by("-created_at", "-id")
        ),
    )


def board_list_for_pin(*, user, pin) -> list[Board]:
    """The boards ``pin`` is on that ``user`` may see."""
    return _gated_boards(
        "pin-boards",
        user=user,
        pin=pin.pk,
        refine=lambda boards, values: boards.filter(placements__pin=values["pin"]).order_by("name"),
    )


def board_pinnable(*, user) -> QuerySet[Board]:
    """Boards ``user`` may add pins to (their own and group boards they were invited to), by name."""
    if not user.is_authenticated:
        return Board.objects.none()
    # A UNION of two index scans: "owner is user OR in their invitations" makes PostgreSQL test
    # every board, on every pin page a signed-in person opens.
    own = Board.objects.filter(owner=user).values("pk")
    invited = BoardCollaborator.objects.filter(user=user).values("board_id")
    return (
        Board.objects.filter(pk__in=own.union(invited))
        .select_related("owner")
        .order_by(Lower("name"), "id")
    )


def board_list_pinnable(*, user) -> list[Board]:
    """``board_pinnable`` as a list, by one compiled query (``pinsite.db.compiled``)."""
    if not user.is_authenticated:
        return []
    compiled = shape(
        "pinnable-boards",
        lambda values: board_pinnable(user=stand_in_user(values["viewer"])),
        values=["viewer"],
    )
    return compiled.objects(Board, viewer=user.pk)


def board_search(*, user, query: str, limit: int = 12) -> list[Board]:
    """Boards ``user`` may see whose name or description holds every word of ``query``, by name.

    The ids are cached per viewer until a board is created or edited (``page_cache.BOARDS``)
    or visibility changes; the boards are then loaded by id through the visibility gate. A
    common word matches thousands of boards (9-15 ms to sort them by name over 50k boards).
    """
    words = search_words(query)
    if not words:
        return []
    slot = page_cache.entry(
        "board-search", viewer=user, parts=(tuple(words), limit), scopes=[page_cache.BOARDS]
    )
    if slot.value is not None:
        by_pk = {board.pk: board for board in _boards_by_ids(user=user, ids=slot.value)}
        return [by_pk[pk] for pk in slot.value if pk in by_pk]
    boards = _board_search(user=user, words=words, limit=limit)
    slot.store([board.pk for board in boards])
    return boards


def _boards_by_ids(*, user, ids: list[int]) -> list[Board]:
    """The boards of ``ids`` that ``user`` may see, with their owners (any order)."""
    if not ids:
        return []
    return _gated_boards(
        "boards-by-id",
        user=user,
        ids=list(ids),
        refine=lambda boards, values: boards.filter(pk__in_array=values["ids"]),
    )


def _board_search(*, user, words: list[str], limit: int) -> list[Board]:
    # On PostgreSQL full text, as pin search: the stored, GIN-indexed document (a LIKE per word
    # reads every board).
    return _gated_boards(
        "board-search",
        user=user,
        limit=limit,
        texts=["words"],
        words=" ".join(words),
        refine=lambda boards, values: boards.filter(
            matching_all(values["words"], fields=("name", "description"))
        ).order_by(Lower("name"), "id"),
    )
