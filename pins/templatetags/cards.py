"""``{% pin_cards cards sizes %}``: the grid's cards, drawn in Python.

A grid page draws 30 to 50 cards. Through ``{% include %}`` each card cost the template engine
about 0.3 ms (variable lookups, escaping, the include itself), most of a warm page's time; here a
card is one ``format_html`` call. Every value is escaped by ``format_html``.
"""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from pins.models import MediaAsset

register = template.Library()

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


def card_html(card, sizes: str) -> SafeString:
    """One card (a ``pins.views.PinCard``) as HTML."""
    pin = card.pin
    if card.ready:
        media = format_html(
            IMAGE,
            src=card.src,
            srcset=card.srcset,
            sizes=sizes,
            width=card.width,
            height=card.height,
            alt=pin.alt_text or pin.title,
        )
    elif pin.media.status == MediaAsset.Status.FAILED:
        media = FAILED
    else:
        media = PREPARING
    background = (
        format_html("; background-image: url('{}')", card.placeholder) if card.placeholder else ""
    )
    return format_html(
        CARD,
        span=card.row_span,
        pk=pin.pk,
        pending="" if card.ready else PENDING,
        url=pin.get_absolute_url(),
        width=card.width,
        height=card.height,
        color=card.color,
        background=background,
        media=media,
        badge=BADGE if card.video_src else "",
        hidden="" if pin.title else HIDDEN,
        title=pin.title or "Untitled pin",
    )


@register.simple_tag
def pin_cards(cards, sizes: str) -> SafeString:
    return mark_safe("".join(card_html(card, sizes) for card in cards))  # noqa: S308
