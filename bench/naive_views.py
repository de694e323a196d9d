"""The naive baseline the pages benchmark compares pinsite's pages with (bench only, never routed
in production): the same five pages built the way small sites often build them.

* no ``select_related`` or ``prefetch_related``: every card loads its media and its renditions in
  queries of their own, every board or saver its owner (the N+1 pattern);
* OFFSET pagination (``?page=N``), so page 1,000 reads and throws away 49,950 rows first;
* every URL signed one at a time by botocore (``default_storage.url``);
* search by ``ILIKE`` on the title and description, newest first.

The pages keep the real ones' rules (``visible_to`` for every pin and board) and draw the same
cards with the site's own ``pins/_grid.html``, so the comparison measures the data access, not
the markup. The home feed lists followed people and boards, then everything else; it leaves out
the real feed's "fresh popular" part, which only makes the baseline cheaper.
"""

from __future__ import annotations

import math

from django.core.files.storage import default_storage
from django.db.models import Exists, OuterRef, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.template import engines

from accounts.models import User, UserFollow
from boards.models import Board, BoardFollow, BoardPin
from pins.grid import PinCard
from pins.models import Pin
from pinsite.search import search_words

PAGE_SIZE = 50
PAGE = engines["django"].from_string(
    """{% extends "base.html" %}{% block content %}<h1>{{ heading }}</h1>
{% if facts %}<ul role="list">{% for fact in facts %}<li>{{ fact }}</li>{% endfor %}</ul>{% endif %}
{% include "pins/_grid.html" %}
{% if next_url %}<p><a href="{{ next_url }}" rel="next">More pins</a></p>{% endif %}
{% endblock %}"""
)


def naive_card(pin: Pin) -> PinCard:
    asset = pin.media  # a query per card
    grid = sorted(
        (r for r in asset.renditions.all() if r.purpose == "grid" and r.format == "webp"),
        key=lambda r: r.width,
    )  # another query per card
    urls = [default_storage.url(r.key) for r in grid]  # botocore signs each one
    width, height = asset.width or 236, asset.height or 236
    return PinCard(
        pin=pin,
        src=urls[0] if urls else "",
        srcset=", ".join(f"{url} {r.width}w" for url, r in zip(urls, grid, strict=True)),
        large_src=urls[-1] if urls else "",
        width=width,
        height=height,
        color=asset.dominant_color or "#e9e9e9",
        ready=asset.status == "ready" and bool(urls),
        row_span=max(4, math.ceil((236 * height / width + 48) / 8)),
    )


def _page(request: HttpRequest) -> int:
    try:
        return max(1, int(request.GET.get("page", "1")))
    except ValueError:
        return 1


def _render(request, *, heading: str, pins: list[Pin], page: int, facts=(), full=True):
    next_url = f"?page={page + 1}" if full and len(pins) == PAGE_SIZE else ""
    if "q" in request.GET and next_url:
        next_url += f"&q={request.GET['q']}"
    context = {
        "heading": heading,
        "facts": list(facts),
        "cards": [naive_card(pin) for pin in pins],
        "sizes": "(max-width: 520px) 50vw, 236px",
        "next_url": next_url,
    }
    return HttpResponse(PAGE.render(context, request))


def home(request: HttpRequest) -> HttpResponse:
    user, page = request.user, _page(request)
    offset = (page - 1) * PAGE_SIZE
    visible = Pin.objects.visible_to(user).order_by("-created_at", "-id")
    if not user.is_authenticated:
        return _render(
            request,
            heading="Latest pins",
            pins=list(visible[offset : offset + PAGE_SIZE]),
            page=page,
        )
    following = (
        Q(owner__in=UserFollow.objects.filter(follower=user).values("followee"))
        | Q(owner=user)
        | Exists(
            BoardPin.objects.filter(
                pin=OuterRef("pk"),
                board__in=BoardFollow.objects.filter(follower=user).values("board"),
            )
        )
    )
    followed = visible.filter(following)
    count = followed.count()
    pins = list(followed[offset : offset + PAGE_SIZE]) if offset < count else []
    if len(pins) < PAGE_SIZE:
        start = max(0, offset - count)
        pins += list(visible.exclude(following)[start : start + PAGE_SIZE - len(pins)])
    return _render(request, heading="Your home feed", pins=pins, page=page)


def board_detail(request: HttpRequest, username: str, slug: str) -> HttpResponse:
    user, page = request.user, _page(request)
    board = Board.objects.filter(owner__username=username, slug=slug).first()
    if board is None or not Board.objects.visible_to(user).filter(pk=board.pk).exists():
        raise Http404("No such board")
    offset = (page - 1) * PAGE_SIZE
    pins = list(
        Pin.objects.visible_to(user)
        .filter(placements__board=board)
        .order_by("placements__position", "placements__id")[offset : offset + PAGE_SIZE]
    )
    members = [m.user.username for m in board.memberships.all()]  # a query per member
    facts = [f"by {board.owner.username}", *members]
    return _render(request, heading=board.name, pins=pins, page=page, facts=facts)


def pin_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    pin = Pin.objects.visible_to(user).filter(pk=pk).first()
    if pin is None:
        raise Http404("No such pin")
    boards = list(Board.objects.visible_to(user).filter(placements__pin=pin))
    saves = list(Pin.objects.visible_to(user).filter(parent=pin).order_by("-created_at")[:12])
    facts = [f"by {pin.owner.username}"]
    facts += [f"on {board.name} by {board.owner.username}" for board in boards]
    facts += [f"saved by {save.owner.username}" for save in saves]
    others = Pin.objects.visible_to(user).exclude(pk=pin.pk).order_by("-created_at")
    # "More like this": pins on the same boards, then pins sharing the title's first word.
    related = list(others.filter(placements__board__in=[board.pk for board in boards])[:24])
    words = search_words(pin.title)
    if len(related) < 24 and words:
        seen = [p.pk for p in related]
        more = others.filter(title__icontains=words[0]).exclude(pk__in=seen)
        related += list(more[: 24 - len(related)])
    return _render(
        request, heading=pin.title, pins=[pin, *related], page=1, facts=facts, full=False
    )


def search(request: HttpRequest) -> HttpResponse:
    user, page = request.user, _page(request)
    query = request.GET.get("q", "")[:200]
    pins = Pin.objects.visible_to(user)
    for word in search_words(query):
        pins = pins.filter(Q(title__icontains=word) | Q(description__icontains=word))
    offset = (page - 1) * PAGE_SIZE
    found = list(pins.order_by("-created_at", "-id")[offset : offset + PAGE_SIZE]) if query else []
    return _render(request, heading=f"Search: {query}", pins=found, page=page)


def profile(request: HttpRequest, username: str) -> HttpResponse:
    user, page = request.user, _page(request)
    person = User.objects.filter(username=username).first()
    if person is None:
        raise Http404("No such person")
    boards = Board.objects.visible_to(user).filter(owner=person).order_by("-created_at")
    facts = [f"{board.name}: {board.placements.count()} pins" for board in boards]  # N+1
    facts.append(f"{person.followers.count()} followers")
    offset = (page - 1) * PAGE_SIZE
    pins = list(
        Pin.objects.visible_to(user)
        .filter(owner=person)
        .order_by("-created_at", "-id")[offset : offset + PAGE_SIZE]
    )
    return _render(request, heading=person.username, pins=pins, page=page, facts=facts)
