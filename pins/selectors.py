"""Reads for pins. Every query starts from ``Pin.objects.visible_to``: the one visibility gate."""

from __future__ import annotations

import base64
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import (
    Case,
    Exists,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
    prefetch_related_objects,
)
from django.utils import timezone

from accounts.models import UserFollow
from boards.models import Board, BoardFollow, BoardPin
from pins.models import MediaRendition, Pin

MAX_SEARCH_WORDS = 8
WORD = re.compile(r"\w+", re.UNICODE)


def _with_media(queryset: QuerySet[Pin]) -> QuerySet[Pin]:
    """Everything a card needs in two queries: the pin, its owner and media (one join), and the
    renditions (one prefetch). ``on_public_board`` decides how long its media URLs live."""
    return (
        queryset.select_related("media", "owner")
        .annotate(
            on_public_board=Exists(
                BoardPin.objects.filter(pin=OuterRef("pk"), board__is_secret=False)
            )
        )
        .prefetch_related(
            Prefetch("media__renditions", queryset=MediaRendition.objects.order_by("width"))
        )
    )


def pin_get_visible(*, user, pk: int) -> Pin:
    """The pin if ``user`` may see it; Pin.DoesNotExist otherwise (shown as 404, never 403)."""
    return _with_media(Pin.objects.visible_to(user)).get(pk=pk)


def pin_parent_visible(*, user, pin: Pin) -> Pin | None:
    """Where ``pin`` was saved from, only if ``user`` may see that pin (a secret origin stays hidden)."""
    if pin.parent_id is None:
        return None
    return Pin.objects.visible_to(user).select_related("owner").filter(pk=pin.parent_id).first()


def pin_saves_visible(*, user, pin: Pin, limit: int = 12) -> list[Pin]:
    """Saves of ``pin`` that ``user`` may see, with their owners: "who saved it"."""
    return list(
        Pin.objects.visible_to(user)
        .filter(parent=pin)
        .select_related("owner")
        .order_by("-created_at", "-id")[:limit]
    )


def pin_list_by_ids(*, user, ids: list[int]) -> list[Pin]:
    return list(_with_media(Pin.objects.visible_to(user).filter(pk__in=ids)))


def pin_for_asset(*, user, asset) -> Pin | None:
    """``user``'s own pin of ``asset``, if there is one: an upload of the same bytes finds it."""
    return Pin.objects.filter(owner=user, media=asset).order_by("created_at").first()


def pin_list_for_board(*, user, board, limit: int = 200) -> list[Pin]:
    """The pins on ``board`` that ``user`` may see, in the board's order."""
    queryset = (
        Pin.objects.visible_to(user)
        .filter(placements__board=board)
        .order_by("placements__position", "placements__id")
    )
    return list(_with_media(queryset)[:limit])


def pin_list_for_owner(*, user, owner, limit: int = 50) -> list[Pin]:
    queryset = Pin.objects.visible_to(user).filter(owner=owner).order_by("-created_at", "-id")
    return list(_with_media(queryset)[:limit])


# --- Home feed -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedPage:
    pins: list[Pin]
    next_cursor: str | None
    following_count: int  # how many of ``pins`` come from people and boards the user follows


# How long a pin counts as fresh for the "fresh popular" part of the feed.
FRESH_DAYS = 14
PHASES = ("f", "h", "p")  # following, fresh and saved by others, everything else


@dataclass(frozen=True)
class _Cursor:
    phase: str
    stamp: datetime | None  # the last pin's created_at in this phase (None: phase start)
    pk: int | None
    fresh_since: datetime  # fixed on the first page, so pins never change phase mid-scroll


def _cursor_encode(cursor: _Cursor) -> str:
    stamp = cursor.stamp.isoformat() if cursor.stamp else ""
    raw = f"{cursor.phase}|{stamp}|{cursor.pk or ''}|{cursor.fresh_since.isoformat()}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _cursor_decode(cursor: str) -> _Cursor:
    """Raises ValueError for a malformed cursor."""
    padded = cursor + "=" * (-len(cursor) % 4)
    phase, stamp, pk, since = base64.urlsafe_b64decode(padded.encode()).decode().split("|")
    if phase not in PHASES:
        raise ValueError("unknown feed phase")
    return _Cursor(
        phase,
        datetime.fromisoformat(stamp) if stamp else None,
        int(pk) if pk else None,
        datetime.fromisoformat(since),
    )


def _following_condition(user) -> Q:
    followed_people = UserFollow.objects.filter(follower=user).values("followee")
    followed_boards = BoardFollow.objects.filter(follower=user).values("board")
    on_followed_board = Exists(
        BoardPin.objects.filter(pin=OuterRef("pk"), board__in=followed_boards)
    )
    return Q(owner__in=followed_people) | on_followed_board | Q(owner=user)


def _after(queryset: QuerySet[Pin], cursor: _Cursor) -> QuerySet[Pin]:
    if cursor.stamp is None:
        return queryset
    stamp, pk = cursor.stamp, cursor.pk
    return queryset.filter(Q(created_at__lt=stamp) | Q(created_at=stamp, id__lt=pk))


def _fresh_popular_condition(since: datetime) -> Q:
    saved_by_others = Exists(
        Pin.objects.filter(parent=OuterRef("pk")).exclude(owner=OuterRef("owner"))
    )
    return Q(created_at__gte=since) & saved_by_others


def pin_feed_for_user(*, user, cursor: str | None = None, limit: int = 30) -> FeedPage:
    """The home feed, in three parts, each newest first:

    1. pins from people and boards ``user`` follows (and their own), when signed in;
    2. fresh popular pins: made in the last FRESH_DAYS days and saved by someone else;
    3. everything else ``user`` may see.

    Keyset pagination within each part, so page 1,000 costs what page 1 does; the cursor fixes the
    freshness boundary, so a pin never moves between parts while someone scrolls. The renditions of
    the whole page are fetched in one query. Raises ValueError for a malformed cursor.
    """
    authenticated = user is not None and user.is_authenticated
    phases = PHASES if authenticated else PHASES[1:]
    position = (
        _cursor_decode(cursor)
        if cursor
        else _Cursor(phases[0], None, None, timezone.now() - timedelta(days=FRESH_DAYS))
    )
    if position.phase not in phases:
        raise ValueError("feed phase not available")
    following = _following_condition(user) if authenticated else Q(pk__in=[])
    hot = _fresh_popular_condition(position.fresh_since)
    conditions = {"f": following, "h": ~following & hot, "p": ~following & ~hot}
    visible = (
        Pin.objects.visible_to(user)
        .select_related("media", "owner")
        .annotate(
            on_public_board=Exists(
                BoardPin.objects.filter(pin=OuterRef("pk"), board__is_secret=False)
            )
        )
        .order_by("-created_at", "-id")
    )

    pins: list[Pin] = []
    following_count = 0
    next_cursor = None
    for phase in phases[phases.index(position.phase) :]:
        wanted = limit - len(pins)
        start = (
            position
            if phase == position.phase
            else _Cursor(phase, None, None, position.fresh_since)
        )
        found = list(_after(visible.filter(conditions[phase]), start)[: wanted + 1])
        pins += found[:wanted]
        if phase == "f":
            following_count = len(found[:wanted])
        if len(found) > wanted:
            last = pins[-1]
            next_cursor = _cursor_encode(
                _Cursor(phase, last.created_at, last.pk, position.fresh_since)
            )
            break
        if len(pins) == limit and phase != phases[-1]:
            # Full exactly at a part's end: the next page starts the next part.
            next_phase = phases[phases.index(phase) + 1]
            next_cursor = _cursor_encode(_Cursor(next_phase, None, None, position.fresh_since))
            break
    prefetch_related_objects(
        pins, Prefetch("media__renditions", queryset=MediaRendition.objects.order_by("width"))
    )
    return FeedPage(pins, next_cursor, following_count)


# --- Search and "more like this" ---------------------------------------------------------------


def search_words(query: str) -> list[str]:
    return [word.lower() for word in WORD.findall(query)][:MAX_SEARCH_WORDS]


def _postgres() -> bool:
    return connection.vendor == "postgresql"


SEARCH_CONFIG = "english"


def pin_search_vector():
    """The expression the GIN index ``pins_pin_search`` is built on (migration 0002): queries must
    use exactly this expression for PostgreSQL to use the index."""
    from django.contrib.postgres.search import SearchVector

    return SearchVector("title", config=SEARCH_CONFIG, weight="A") + SearchVector(
        "description", config=SEARCH_CONFIG, weight="B"
    )


def board_search_vector():
    from django.contrib.postgres.search import SearchVector

    return SearchVector("name", "description", config=SEARCH_CONFIG)


def pin_search(*, user, query: str, limit: int = 50) -> list[Pin]:
    """Pins whose title, description or boards' names hold every word of ``query``, best first.

    PostgreSQL: full-text search on a stored, GIN-indexed tsvector (English stemming), ranked.
    SQLite: every word must appear (case-insensitive) in the title, description or a board name;
    title matches rank first.
    """
    words = search_words(query)
    if not words:
        return []
    visible = Pin.objects.visible_to(user)
    if _postgres():
        from django.contrib.postgres.search import SearchQuery, SearchRank

        search = SearchQuery(" ".join(words), search_type="plain", config=SEARCH_CONFIG)
        matching_boards = (
            Board.objects.visible_to(user)
            .annotate(document=board_search_vector())
            .filter(document=search)
        )
        on_matching_board = Exists(
            BoardPin.objects.filter(pin=OuterRef("pk"), board__in=matching_boards.values("pk"))
        )
        queryset = (
            visible.annotate(document=pin_search_vector())
            .filter(Q(document=search) | on_matching_board)
            .annotate(rank=SearchRank(pin_search_vector(), search))
            .order_by("-rank", "-created_at", "-id")
        )
    else:
        queryset = visible
        for word in words:
            queryset = queryset.filter(
                Q(title__icontains=word)
                | Q(description__icontains=word)
                | Exists(BoardPin.objects.filter(pin=OuterRef("pk"), board__name__icontains=word))
            )
        # Rank: how many of the words are in the title, then newest.
        title_hits = sum(
            (Case(When(title__icontains=word, then=Value(1)), default=Value(0)) for word in words),
            start=Value(0),
        )
        queryset = queryset.annotate(rank=title_hits).order_by("-rank", "-created_at", "-id")
    return list(_with_media(queryset)[:limit])


def pin_related(*, user, pin: Pin, limit: int = 24) -> list[Pin]:
    """ "More like this": ranked by shared boards (3 each), shared savers (2) and title words (1)."""
    visible = Pin.objects.visible_to(user).exclude(media_id=pin.media_id)
    scores: Counter[int] = Counter()
    boards = Board.objects.visible_to(user).filter(placements__pin=pin).values("pk")
    for pk in visible.filter(placements__board__in=boards).values_list("pk", flat=True)[:300]:
        scores[pk] += 3
    savers = Pin.objects.filter(media_id=pin.media_id).values("owner")
    for pk in visible.filter(owner__in=savers).values_list("pk", flat=True)[:300]:
        scores[pk] += 2
    words = [w for w in search_words(pin.title) if len(w) > 2]
    if words:
        if _postgres():
            from django.contrib.postgres.search import SearchQuery

            text = SearchQuery(" | ".join(words), search_type="raw", config=SEARCH_CONFIG)
            matches = visible.annotate(document=pin_search_vector()).filter(document=text)
        else:
            any_word = Q()
            for word in words:
                any_word |= Q(title__icontains=word)
            matches = visible.filter(any_word)
        for pk in matches.values_list("pk", flat=True)[:300]:
            scores[pk] += 1
    ranked = [pk for pk, _ in sorted(scores.items(), key=lambda item: (-item[1], -item[0]))]
    ranked = ranked[:limit]
    by_pk = {p.pk: p for p in _with_media(Pin.objects.filter(pk__in=ranked))}
    return [by_pk[pk] for pk in ranked if pk in by_pk]
