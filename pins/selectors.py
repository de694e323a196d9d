"""Reads for pins. Every query starts from ``Pin.objects.visible_to``: the one visibility gate."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from django.db.models import Case, Exists, F, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone

from accounts.models import UserFollow
from boards.models import Board, BoardFollow, BoardPin
from media.models import MediaRendition
from pins.models import Pin
from pinsite import page_cache
from pinsite.db.compiled import shape, stand_in_user
from pinsite.db.compound import in_any_of
from pinsite.search import matching_all, matching_any, search_rank, search_words

# What a card in a grid reads, and no more: building models is a grid page's main Python cost
# (a media asset alone has eight timestamps to parse).
CARD_FIELDS = (
    *("id", "owner_id", "media_id", "parent_id", "title", "alt_text", "created_at"),
    *("media__id", "media__kind", "media__status", "media__width", "media__height"),
    *("media__dominant_color", "media__placeholder"),
)
OWNER_FIELDS = ("owner__id", "owner__username")


def _card_rows(
    queryset: QuerySet[Pin], *, whole: bool = False, owners: bool = False
) -> QuerySet[Pin]:
    """The pin and its media in one query; renditions come with ``_prefetch_renditions``. Only
    the columns a card reads (``CARD_FIELDS``), with the owner's name when ``owners`` (the pin
    page's saves), or every column and the owner when ``whole`` (the pin page's own pin)."""
    if whole:
        queryset = queryset.select_related("media", "owner").defer("search_document")
    elif owners:
        queryset = queryset.select_related("media", "owner").only(*CARD_FIELDS, *OWNER_FIELDS)
    else:
        queryset = queryset.select_related("media").only(*CARD_FIELDS)
    return queryset.annotate(on_public_board=_on_public_board())


def _on_public_board() -> Exists:
    return Exists(BoardPin.objects.filter(pin=OuterRef("pk"), board__is_secret=False))


def _cards_by_ids(*, user, ids: list[int], owners: bool = False, whole: bool = False) -> list[Pin]:
    """The pins of ``ids`` that ``user`` may see, as ``_card_rows`` loads them (any order), by
    one compiled query (``pinsite.db.compiled``): building and compiling the gate on every page
    costs more than running it."""
    if not ids:
        return []
    signed_in = user is not None and user.is_authenticated

    def build(values):
        viewer = stand_in_user(values["viewer"]) if signed_in else None
        queryset = Pin.objects.visible_to(viewer).filter(pk__in_array=values["ids"])
        return _card_rows(queryset, owners=owners, whole=whole)

    compiled = shape(
        ("cards", signed_in, owners, whole),
        build,
        values=["viewer", "ids"] if signed_in else ["ids"],
        lists=["ids"],
    )
    viewing = {"viewer": user.pk} if signed_in else {}
    return compiled.objects(Pin, **viewing, ids=list(ids))


@dataclass(frozen=True, slots=True)
class DrawnRendition:
    """The part of a ``MediaRendition`` a card draws from, without building a model for it."""

    purpose: str
    width: int
    height: int
    format: str
    key: str
    storage_tier: str


def _prefetch_renditions(pins: list[Pin]) -> None:
    """The renditions of every pin in ``pins`` (a whole page, any mix) in one query, as
    ``pin.media.drawn_renditions``: only what ``pins.views.pin_card`` draws (the WebP images and
    the video; it never uses the JPEG renditions), as plain rows: a page has about 150, and
    models for them would cost more than the query."""
    if not pins:
        return
    assets = sorted({pin.media_id for pin in pins})

    def build(values):
        return (
            MediaRendition.objects.filter(asset_id__in_array=values["assets"])
            .filter(Q(format="webp") | Q(purpose=MediaRendition.Purpose.VIDEO))
            .order_by("width", "id")
            .values_list("asset_id", "purpose", "width", "height", "format", "key", "storage_tier")
        )

    compiled = shape("renditions", build, values=["assets"], lists=["assets"])
    _alias, rows = compiled.rows(MediaRendition, assets=assets)
    by_asset: dict[int, list[DrawnRendition]] = {}
    for asset_id, *fields in rows:
        by_asset.setdefault(asset_id, []).append(DrawnRendition(*fields))
    for pin in pins:
        pin.media.drawn_renditions = by_asset.get(pin.media_id, [])


def _pins_in_order(*, user, ids: list[int]) -> list[Pin]:
    """The pins of ``ids`` that ``user`` may see *now*, in the order of ``ids``: a cached id list
    always goes back through the visibility gate, so it can never show a pin that became secret."""
    if not ids:
        return []
    by_pk = {pin.pk: pin for pin in _cards_by_ids(user=user, ids=ids)}
    return [by_pk[pk] for pk in ids if pk in by_pk]


def pin_get_visible(*, user, pk: int) -> Pin:
    """The pin if ``user`` may see it; Pin.DoesNotExist otherwise (shown as 404, never 403).
    Its renditions are not loaded: the pin page fetches them with the rest of the page's."""
    found = _cards_by_ids(user=user, ids=[pk], whole=True)
    if not found:
        raise Pin.DoesNotExist(f"No visible pin {pk}")
    return found[0]


@dataclass(frozen=True)
class PinPageNeighbours:
    parent: Pin | None  # where the pin was saved from, if the viewer may see it
    saves: list[Pin]  # its newest saves the viewer may see: "who saved it"
    related: list[Pin]  # "more like this", best first


def pin_page_neighbours(*, user, pin: Pin, saves_limit: int = 12) -> PinPageNeighbours:
    """Everything the pin page shows around ``pin``, in three queries whatever the counts: the
    ids of its related pins and newest saves (cached per viewer until a pin or placement
    changes; when not, the related ids take a query of their own), one query for
    those pins and the parent through the visibility gate, and one for the renditions of all of
    them and of ``pin`` itself."""
    slot = page_cache.entry(
        "pin-page", viewer=user, parts=(pin.pk, saves_limit), scopes=[page_cache.STREAM]
    )
    parent = [pin.parent_id] if pin.parent_id is not None else []
    if slot.value is not None:
        related_ids, save_ids = slot.value["related"], slot.value["saves"]
        wanted = list(dict.fromkeys([*related_ids, *save_ids, *parent]))
        rows = _cards_by_ids(user=user, ids=wanted, owners=True)
    else:
        related_ids = pin_related_ids(user=user, pin=pin)
        rows = _pins_with_newest_saves(
            user=user, pin=pin, known=[*related_ids, *parent], saves_limit=saves_limit
        )
        newest = sorted(
            (row for row in rows if row.parent_id == pin.pk),
            key=lambda row: (row.created_at, row.pk),
            reverse=True,
        )
        save_ids = [row.pk for row in newest[:saves_limit]]
        slot.store({"related": related_ids, "saves": save_ids})
    _prefetch_renditions([pin, *rows])
    by_pk = {row.pk: row for row in rows}
    return PinPageNeighbours(
        parent=by_pk.get(pin.parent_id) if pin.parent_id else None,
        saves=[by_pk[pk] for pk in save_ids if pk in by_pk],
        related=[by_pk[pk] for pk in related_ids if pk in by_pk],
    )


def _pins_with_newest_saves(*, user, pin: Pin, known: list[int], saves_limit: int) -> list[Pin]:
    """The pins of ``known`` and the newest ``saves_limit`` saves of ``pin`` that ``user`` may
    see, in one query."""
    visible = Pin.objects.visible_to(user)
    newest_saves = visible.filter(parent=pin).order_by("-created_at", "-id").values("pk")
    # "In these ids OR in the newest saves" makes PostgreSQL test every pin against both:
    # ``in_any_of`` is a UNION there.
    known_pins = Pin.objects.filter(pk__in=known).values("pk")
    wanted = in_any_of([known_pins, newest_saves[:saves_limit]])
    return list(_card_rows(visible.filter(wanted), owners=True))


def pin_list_by_ids(*, user, ids: list[int]) -> list[Pin]:
    pins = _pins_in_order(user=user, ids=ids)
    _prefetch_renditions(pins)
    return pins


def pin_for_asset(*, user, asset) -> Pin | None:
    """``user``'s own pin of ``asset``, if there is one: an upload of the same bytes finds it."""
    return Pin.objects.filter(owner=user, media=asset).order_by("created_at").first()


@dataclass(frozen=True)
class GridPage:
    pins: list[Pin]
    next_cursor: str | None


def _keyset_encode(*values) -> str:
    raw = "|".join("" if value is None else str(value) for value in values)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _keyset_decode(cursor: str, *types) -> tuple:
    """The values of a cursor made by ``_keyset_encode``; ValueError when it is malformed."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        parts = base64.urlsafe_b64decode(padded.encode()).decode().split("|")
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError("malformed cursor") from error
    if len(parts) != len(types):
        raise ValueError("malformed cursor")
    return tuple(kind(part) for kind, part in zip(types, parts, strict=True))


def _optional(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    """A cursor part that may be empty (None)."""
    return lambda part: kind(part) if part else None


def _cached_grid_page(
    kind: str, *, user, parts: tuple, scopes: list[str], compute, follows: bool = False
) -> tuple[list[Pin], dict]:
    """One page of a grid: its ids from the cache when current (the pins are then loaded by id
    through the visibility gate), else ``compute()`` -> (pins, extra) and its ids are kept.
    Returns the pins with renditions, and ``extra`` (plain data stored with the ids)."""
    slot = page_cache.entry(kind, viewer=user, parts=parts, scopes=scopes, follows=follows)
    if slot.value is not None:
        pins = _pins_in_order(user=user, ids=slot.value["ids"])
        extra = slot.value["extra"]
    else:
        pins, extra = compute()
        slot.store({"ids": [pin.pk for pin in pins], "extra": extra})
    _prefetch_renditions(pins)
    return pins, extra


def pin_page_for_board(*, user, board, cursor: str | None = None, limit: int = 50) -> GridPage:
    """A page of the pins on ``board`` that ``user`` may see, in the board's order.

    Keyset pagination on (position, placement id), so page 1,000 costs what page 1 does. Raises
    ValueError for a malformed cursor.
    """
    after = _keyset_decode(cursor, int, int) if cursor else None

    def compute():
        # One filter() call: the board, the order and the cursor all use the same placement join.
        placement = Q(placements__board=board)
        if after is not None:
            position, placement_id = after
            placement &= Q(placements__position__gt=position) | Q(
                placements__position=position, placements__id__gt=placement_id
            )
        rows = list(
            _card_rows(Pin.objects.visible_to(user).filter(placement))
            .annotate(board_position=F("placements__position"), placement_id=F("placements__id"))
            .order_by("placements__position", "placements__id")[: limit + 1]
        )
        more = len(rows) > limit
        last = rows[limit - 1] if more else None
        next_cursor = _keyset_encode(last.board_position, last.placement_id) if last else None
        return rows[:limit], {"next": next_cursor}

    pins, extra = _cached_grid_page(
        "board",
        user=user,
        parts=(board.pk, cursor, limit),
        scopes=[page_cache.board_scope(board.pk)],
        compute=compute,
    )
    return GridPage(pins, extra["next"])


def pin_page_for_owner(*, user, owner, cursor: str | None = None, limit: int = 50) -> GridPage:
    """A page of ``owner``'s pins that ``user`` may see, newest first; keyset pagination on
    (created_at, id). Raises ValueError for a malformed cursor."""
    after = _keyset_decode(cursor, datetime.fromisoformat, int) if cursor else None

    def compute():
        queryset = Pin.objects.visible_to(user).filter(owner=owner)
        if after is not None:
            stamp, pk = after
            queryset = queryset.filter(Q(created_at__lt=stamp) | Q(created_at=stamp, id__lt=pk))
        rows = list(_card_rows(queryset).order_by("-created_at", "-id")[: limit + 1])
        last = rows[limit - 1] if len(rows) > limit else None
        next_cursor = _keyset_encode(last.created_at.isoformat(), last.pk) if last else None
        return rows[:limit], {"next": next_cursor}

    pins, extra = _cached_grid_page(
        "profile",
        user=user,
        parts=(owner.pk, cursor, limit),
        scopes=[page_cache.owner_scope(owner.pk)],
        compute=compute,
    )
    return GridPage(pins, extra["next"])


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
    stamp = cursor.stamp.isoformat() if cursor.stamp else None
    return _keyset_encode(cursor.phase, stamp, cursor.pk, cursor.fresh_since.isoformat())


def _cursor_decode(cursor: str) -> _Cursor:
    """The feed's position, from the same codec as every grid's; ValueError when malformed."""
    phase, stamp, pk, since = _keyset_decode(
        cursor, str, _optional(datetime.fromisoformat), _optional(int), datetime.fromisoformat
    )
    if phase not in PHASES:
        raise ValueError("unknown feed phase")
    return _Cursor(phase, stamp, pk, since)


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
    # Q & Exists is a Q (Q._combine); the stubs say Combinable.
    return cast(Q, Q(created_at__gte=since) & saved_by_others)


def pin_feed_for_user(*, user, cursor: str | None = None, limit: int = 30) -> FeedPage:
    """The home feed, in three parts, each newest first:

    1. pins from people and boards ``user`` follows (and their own), when signed in;
    2. fresh popular pins: made in the last FRESH_DAYS days and saved by someone else;
    3. everything else ``user`` may see.

    Keyset pagination within each part, so page 1,000 costs what page 1 does; the cursor fixes the
    freshness boundary, so a pin never moves between parts while someone scrolls. The page's ids
    are cached per viewer (``pinsite.page_cache``); the renditions of the whole page are fetched in
    one query. Raises ValueError for a malformed cursor.
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

    def compute():
        following = _following_condition(user) if authenticated else Q(pk__in=[])
        hot = _fresh_popular_condition(position.fresh_since)
        conditions = {"f": following, "h": ~following & hot, "p": ~following & ~hot}
        visible = _card_rows(Pin.objects.visible_to(user)).order_by("-created_at", "-id")
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
        return pins, {"next": next_cursor, "following": following_count}

    pins, extra = _cached_grid_page(
        "feed",
        user=user,
        parts=(cursor, limit),
        scopes=[page_cache.STREAM],
        compute=compute,
        follows=True,
    )
    return FeedPage(pins, extra["next"], extra["following"])


# --- Search and "more like this" ---------------------------------------------------------------


def pin_search_page(*, user, query: str, cursor: str | None = None, limit: int = 50) -> GridPage:
    """Pins whose title, description or boards' names hold every word of ``query``, best first.

    Every word must be in the pin's own title or description, or in the name or description of a
    board it is on that ``user`` may see (``pinsite.search``: full text on PostgreSQL). Keyset
    pagination on (rank, created_at, id). Raises ValueError for a malformed cursor.
    """
    words = search_words(query)
    if not words:
        return GridPage([], None)
    after = _keyset_decode(cursor, float, datetime.fromisoformat, int) if cursor else None

    def compute():
        queryset = _search_ranked(user=user, words=words)
        if after is not None:
            rank, stamp, pk = after
            queryset = queryset.filter(
                Q(rank__lt=rank)
                | Q(rank=rank, created_at__lt=stamp)
                | Q(rank=rank, created_at=stamp, id__lt=pk)
            )
        # The page's cards by the ids of its ranked subquery: joined before the sort, the owners
        # and media of every candidate would be read to keep fifty. The order is the same ranking
        # over the same rows, so sorting here matches the subquery's.
        top = queryset.values("pk")[: limit + 1]
        rows = sorted(
            _card_rows(Pin.objects.filter(pk__in=top)).annotate(rank=search_rank(words)),
            key=lambda pin: (pin.rank, pin.created_at, pin.pk),
            reverse=True,
        )
        last = rows[limit - 1] if len(rows) > limit else None
        next_cursor = (
            # repr() keeps every bit of the rank, so the next page starts exactly after this one.
            _keyset_encode(repr(float(last.rank)), last.created_at.isoformat(), last.pk)
            if last
            else None
        )
        return rows[:limit], {"next": next_cursor}

    pins, extra = _cached_grid_page(
        "search",
        user=user,
        parts=(tuple(words), cursor, limit),
        scopes=[page_cache.STREAM],
        compute=compute,
    )
    return GridPage(pins, extra["next"])


# How many of the newest matches search ranks, per kind of match (the pin's own words, the
# words of a board it is on): a common pair of words matches a large share of all pins, and
# ranking all of them costs seconds. The newest matches are found by walking the pins' primary
# key backwards (common words) or by the GIN index (rare ones), whichever PostgreSQL's
# statistics say is cheaper.
SEARCH_WINDOW = 1000
SEARCH_BOARDS = 500  # the newest boards whose name or description matches


def _search_ranked(*, user, words: list[str]) -> QuerySet[Pin]:
    visible = Pin.objects.visible_to(user)
    text = " ".join(words)
    # The matching boards first, as a list: inside the pins' query the planner walked every
    # placement testing its board's name instead. Only boards the viewer
    # may see: a secret board's name must not find its pins.
    matching_boards = list(
        Board.objects.visible_to(user)
        .filter(matching_all(text, fields=("name", "description")))
        .order_by("-pk")
        .values_list("pk", flat=True)[:SEARCH_BOARDS]
    )
    # The candidates from two bounded scans: the newest pins whose own words match, and the
    # newest pins placed on a matching board. Written as "matches OR on a matching board" the
    # planner cannot use the index and scans every pin.
    by_words = (
        Pin.objects.filter(matching_all(text, fields=("title", "description")))
        .order_by("-pk")
        .values("pk")[:SEARCH_WINDOW]
    )
    by_board = (
        BoardPin.objects.filter(board_id__in=matching_boards)
        .order_by("-pin_id")
        .values("pin_id")[:SEARCH_WINDOW]
    )
    return (
        visible.filter(in_any_of([by_words, by_board]))
        .annotate(rank=search_rank(words))
        .order_by("-rank", "-created_at", "-id")
    )


RELATED_CANDIDATES = 300  # per signal: shared boards, shared savers, title words


def pin_related_ids(*, user, pin: Pin, limit: int = 24) -> list[int]:
    """ "More like this": ids ranked by shared boards (3 each), shared savers (2) and title words
    (1), then newest; one query. The pin page caches them with its saves (``pin-page``)."""
    visible = Pin.objects.visible_to(user).exclude(media_id=pin.media_id)
    boards = Board.objects.visible_to(user).filter(placements__pin=pin).values("pk")
    savers = Pin.objects.filter(media_id=pin.media_id).values("owner")
    signals = [
        (3, visible.filter(placements__board__in=boards)),
        (2, visible.filter(owner__in=savers)),
    ]
    words = [w for w in search_words(pin.title) if len(w) > 2]
    if words:
        signals.append((1, visible.filter(matching_any(words, fields=("title",)))))
    # Each signal is capped, as a subquery; the score sums the signals a candidate is in.
    capped = [(points, qs.values("pk")[:RELATED_CANDIDATES]) for points, qs in signals]
    # The candidates (a few hundred ids) as one UNION on PostgreSQL: "in A OR in B OR in C" makes
    # it test every pin against the three lists.
    candidates = in_any_of([ids for _, ids in capped])
    score = sum(
        (Case(When(pk__in=ids, then=Value(points)), default=Value(0)) for points, ids in capped),
        start=Value(0),
    )
    return list(
        Pin.objects.filter(candidates)
        .annotate(score=score)
        .order_by("-score", "-id")
        .values_list("pk", flat=True)[:limit]
    )
