"""Selected pins -> grid cards -> HTML: the one place a card is made, for every page with a grid
(home feed, boards, profiles, search, "more like this", the status poll).

``pin_card`` turns a pin loaded by the selectors into what a card shows (signed URLs, sizes,
colour, placeholder, state); ``cards_html`` draws cards in Python, one ``str.format`` of escaped
values each, because a page draws 30 to 50 of them and the template engine's per-card work
(includes, variable lookups, lazy escaping) would be most of a warm page's time. Templates place
the result with ``{% pin_cards cards sizes %}`` (``pins/templatetags/cards.py``).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import cast

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.safestring import SafeData, SafeString, mark_safe

from media import placeholders, storage
from media.models import ARCHIVED_TIERS, MediaAsset
from pins.models import Pin

GRID_SIZES = "(max-width: 520px) 50vw, 236px"
# The grid lays cards on rows this many pixels tall; a card spans as many as its image needs.
GRID_ROW_PX = 8
GRID_COLUMN_PX = 236
CARD_CAPTION_PX = 32
FEED_PAGE_SIZE = 30
PAGE_SIZE = 50  # board, profile and search pages


@dataclass(frozen=True)
class PinCard:
    """What a template needs to draw a pin without touching storage or the ORM."""

    pin: Pin
    src: str
    srcset: str
    large_src: str
    width: int
    height: int
    color: str
    ready: bool
    row_span: int
    placeholder: str = ""  # a tiny PNG data URI drawn from the asset's ThumbHash
    video_src: str = ""  # the MP4 rendition of a video pin (its poster is the image renditions)
    preparing: bool = False  # its large view or video is being restored from an archive tier


def pin_card(pin: Pin) -> PinCard:
    # Loaded by the selectors as plain rows (``drawn_renditions``). Pages use the WebP
    # renditions; the JPEG ones are the fallback for clients that cannot show WebP.
    everything = getattr(pin.media, "drawn_renditions", None)
    if everything is None:  # a pin that did not come through the selectors
        everything = list(pin.media.renditions.all())
    renditions = [r for r in everything if r.format == "webp"]
    video = [r for r in everything if r.purpose == "video"]
    grid = sorted((r for r in renditions if r.purpose == "grid"), key=lambda r: r.width)
    large = [r for r in renditions if r.purpose == "large"]
    ready = pin.media.status == MediaAsset.Status.READY and bool(grid)
    # An archived large view or video cannot load until restored: the largest grid image stands in.
    preparing = ready and any(r.storage_tier in ARCHIVED_TIERS for r in (*large, *video))
    if preparing:
        large, video = [], []
    # Media of pins on secret boards gets shorter-lived URLs.
    expires = (
        None if getattr(pin, "on_public_board", True) else settings.MEDIA_URL_EXPIRY_SECRET_SECONDS
    )
    srcset = ", ".join(f"{storage.url_for(key=r.key, expires=expires)} {r.width}w" for r in grid)
    src = storage.url_for(key=grid[0].key, expires=expires) if grid else ""
    large_src = storage.url_for(key=large[0].key, expires=expires) if large else src
    if len(grid) > 1 and not large:
        large_src = storage.url_for(key=grid[-1].key, expires=expires)
    width = pin.media.width or GRID_COLUMN_PX
    height = pin.media.height or GRID_COLUMN_PX
    image_px = GRID_COLUMN_PX * height / width
    caption = CARD_CAPTION_PX if pin.title else 0
    return PinCard(
        pin=pin,
        src=src,
        srcset=srcset,
        large_src=large_src,
        width=width,
        height=height,
        color=pin.media.dominant_color or "#e9e9e9",
        ready=ready,
        row_span=max(4, math.ceil((image_px + caption + 16) / GRID_ROW_PX)),
        placeholder=placeholders.data_uri(pin.media.placeholder),
        video_src=storage.url_for(key=video[0].key, expires=expires) if video and ready else "",
        preparing=preparing,
    )


def pin_cards(pins: list[Pin]) -> list[PinCard]:
    return [pin_card(pin) for pin in pins]


def _grid_context(pins: list[Pin], **extra) -> dict:
    return {"cards": pin_cards(pins), "sizes": GRID_SIZES, **extra}


BROKEN_CURSOR = "That page link is broken. Start again from the top."


def render_grid_page(
    request: HttpRequest, template: str, *, pins: list[Pin], next_cursor: str | None, **context
) -> HttpResponse:
    """A page with a paged grid, or with ``?partial=1`` only the next cards (the infinite scroll)."""
    context = _grid_context(pins, next_cursor=next_cursor, feed_url=request.path, **context)
    if request.GET.get("partial"):
        return render(request, "pins/_cards_page.html", context)
    return render(request, template, context)


def broken_cursor(request: HttpRequest) -> HttpResponse:
    return render(request, "pins/pin_list.html", {"error": BROKEN_CURSOR, "cards": []}, status=400)


CARD = (
    '<li class="card" style="--span: {span}" data-pin="{pk}"{pending}>\n'
    '  <a href="{url}">\n'
    '    <span class="card-media" style="aspect-ratio: {width} / {height}; '
    'background-color: {color}{background}">\n'
    "      {media}\n"
    "    </span>\n"
    "    {badge}"
    '<span class="card-title{hidden}">{title}</span>\n'
    "  </a>\n"
    "</li>"
)
IMAGE = (
    '<img src="{src}" srcset="{srcset}" sizes="{sizes}" width="{width}" height="{height}" '
    'loading="lazy" decoding="async" alt="{alt}">'
)
FAILED = mark_safe('<span class="card-state">Could not process this image</span>')
PREPARING = mark_safe('<span class="card-state">Preparing…</span>')
BADGE = mark_safe('<span class="card-badge" aria-hidden="true">▶</span>\n    ')
PENDING = mark_safe(' data-pending="1"')
HIDDEN = mark_safe(" visually-hidden")


def _escape(value) -> str:
    """``conditional_escape`` without its lazy-string wrapper (a card escapes ~15 values)."""
    if isinstance(value, SafeData):
        return cast(str, value)  # a SafeString: the values drawn are strings
    return html.escape(str(value))


_URL_STAND_IN = 987_654_321_987


def pin_url_parts() -> tuple[str, str]:
    """A pin page's URL around its id, from one ``reverse`` (a script prefix included)."""
    url = reverse("pins:detail", kwargs={"pk": _URL_STAND_IN})
    before, after = url.split(str(_URL_STAND_IN))
    return before, after


def card_html(card, sizes: str, url_parts: tuple[str, str] | None = None) -> SafeString:
    """One card as HTML; every value escaped."""
    pin = card.pin
    if card.ready:
        media = IMAGE.format(
            src=_escape(card.src),
            srcset=_escape(card.srcset),
            sizes=_escape(sizes),
            width=_escape(card.width),
            height=_escape(card.height),
            alt=_escape(pin.alt_text or pin.title),
        )
    elif pin.media.status == MediaAsset.Status.FAILED:
        media = FAILED
    else:
        media = PREPARING
    background = (
        f"; background-image: url('{_escape(card.placeholder)}')" if card.placeholder else ""
    )
    before, after = url_parts or pin_url_parts()
    # nosemgrep: mark-safe-non-literal - CARD is a literal and every value put in is escaped
    return mark_safe(  # noqa: S308 - every value above and below is escaped
        CARD.format(
            span=_escape(card.row_span),
            pk=_escape(pin.pk),
            pending="" if card.ready else PENDING,
            url=_escape(f"{before}{pin.pk}{after}"),
            width=_escape(card.width),
            height=_escape(card.height),
            color=_escape(card.color),
            background=background,
            media=media,
            badge=BADGE if card.video_src else "",
            hidden="" if pin.title else HIDDEN,
            title=_escape(pin.title or "Untitled pin"),
        )
    )


def cards_html(cards: list[PinCard], sizes: str) -> SafeString:
    """Every card of a grid page as HTML, with one ``reverse`` for all their links."""
    url_parts = pin_url_parts()
    # nosemgrep: mark-safe-non-literal - joins cards that card_html escaped
    return mark_safe("".join(card_html(card, sizes, url_parts) for card in cards))  # noqa: S308
