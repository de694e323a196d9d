from __future__ import annotations

from dataclasses import dataclass

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from boards.selectors import board_list_for_pin
from pins import selectors, storage
from pins.models import Pin

GRID_SIZES = "(max-width: 520px) 50vw, 236px"


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


def pin_card(pin: Pin) -> PinCard:
    renditions = list(pin.media.renditions.all())  # prefetched by the selector
    grid = [r for r in renditions if r.purpose == "grid"]
    large = [r for r in renditions if r.purpose == "large"]
    srcset = ", ".join(f"{storage.url_for(key=r.key)} {r.width}w" for r in grid)
    fallback = storage.url_for(key=pin.media.original_key) if not grid else ""
    src = storage.url_for(key=grid[0].key) if grid else fallback
    large_src = storage.url_for(key=large[0].key) if large else (grid and src) or fallback
    return PinCard(
        pin=pin,
        src=src,
        srcset=srcset,
        large_src=large_src,
        width=pin.media.width or 236,
        height=pin.media.height or 236,
        color=pin.media.dominant_color or "#e9e9e9",
    )


def home(request: HttpRequest) -> HttpResponse:
    pins = selectors.pin_list_recent(user=request.user, limit=50)
    return render(
        request,
        "pins/pin_list.html",
        {"cards": [pin_card(pin) for pin in pins], "sizes": GRID_SIZES},
    )


def pin_detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        pin = selectors.pin_get_visible(user=request.user, pk=pk)
    except Pin.DoesNotExist:
        raise Http404("No such pin") from None
    return render(
        request,
        "pins/pin_detail.html",
        {
            "card": pin_card(pin),
            "pin": pin,
            "boards": board_list_for_pin(user=request.user, pin=pin),
        },
    )
