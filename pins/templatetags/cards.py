"""``{% pin_cards cards sizes %}``: a grid's cards, drawn by ``pins.grid.cards_html``."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from pins import grid

register = template.Library()


@register.simple_tag
def pin_cards(cards: list[grid.PinCard], sizes: str) -> SafeString:
    return grid.cards_html(cards, sizes)
