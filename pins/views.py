from __future__ import annotations

import logging
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST, require_safe

from accounts.http import SignedInRequest
from boards.selectors import (
    board_list_for_pin,
    board_list_pinnable,
    board_pinnable,
    board_search,
)
from boards.services import board_create
from media import storage
from media.models import MediaAsset
from media.signals import large_view_served
from pins import selectors, services
from pins.forms import PinDetailsForm, PinReportForm, PinSaveForm
from pins.grid import (
    FEED_PAGE_SIZE,
    PAGE_SIZE,
    _grid_context,
    broken_cursor,
    pin_card,
    pin_cards,
    render_grid_page,
)
from pins.models import Pin
from pinsite.form_errors import form_add_service_errors
from pinsite.ids import id_parse, ids_parse
from pinsite.ratelimit import rate_limited
from pinsite.search import search_words

logger = logging.getLogger(__name__)


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """The home feed: followed people and boards first, then fresh pins; cursor pagination."""
    try:
        page = selectors.pin_feed_for_user(
            user=request.user, cursor=request.GET.get("cursor"), limit=FEED_PAGE_SIZE
        )
    except ValueError:
        return broken_cursor(request)
    return render_grid_page(
        request, "pins/pin_list.html", pins=page.pins, next_cursor=page.next_cursor, feed=page
    )


def _pin_or_404(request: HttpRequest, pk: int) -> Pin:
    try:
        return selectors.pin_get_visible(user=request.user, pk=pk)
    except Pin.DoesNotExist:
        raise Http404("No such pin") from None


def _pin_page_context(request: HttpRequest, pin: Pin, *, save_form=None) -> dict:
    user = request.user
    source_host = urlsplit(pin.source_url).hostname if pin.source_url else ""
    around = selectors.pin_page_neighbours(user=user, pin=pin)  # also loads ``pin``'s renditions
    context = {
        "card": pin_card(pin),
        "pin": pin,
        "source_host": (source_host or "").removeprefix("www."),
        "boards": board_list_for_pin(user=user, pin=pin),
        "parent": around.parent,
        "saves": around.saves,
        **_grid_context(around.related),
    }
    if user.is_authenticated:
        context["save_form"] = save_form or PinSaveForm(user=user)
        context["report_form"] = PinReportForm()
        context["is_owner"] = pin.owner_id == user.pk
    return context


@require_safe
def pin_detail(request: HttpRequest, pk: int) -> HttpResponse:
    pin = _pin_or_404(request, pk)
    context = _pin_page_context(request, pin)
    # Its large view's URL was handed out: tiering counts the access (no DB write) and restores
    # a large view that sits in an archive tier.
    large_view_served.send(
        sender=Pin,
        asset_ids=[pin.media_id],
        archived=[pin.media_id] if context["card"].preparing else [],
    )
    return render(request, "pins/pin_detail.html", context)


@login_required
@require_POST
def pin_save(request: SignedInRequest, pk: int) -> HttpResponse:
    """Save a pin to one of the viewer's boards, or to a new board named in the same form."""
    pin = _pin_or_404(request, pk)
    form = PinSaveForm(request.POST, user=request.user)
    if form.is_valid():
        try:
            board = form.cleaned_data["board"] or board_create(
                owner=request.user,
                name=form.cleaned_data["new_board_name"],
                is_secret=form.cleaned_data["new_board_secret"],
            )
            saved = services.pin_save(user=request.user, pin=pin, board=board)
        except ValidationError as error:
            form_add_service_errors(form, error)
        else:
            messages.success(request, f"Saved to “{board.name}”.")
            return redirect(saved)
    # Show the pin page again with the errors and what was typed.
    context = _pin_page_context(request, pin, save_form=form)
    return render(request, "pins/pin_detail.html", context, status=400)


@login_required
@require_POST
@rate_limited("report", message="You have sent many reports in a short time; try again in {wait}.")
def pin_report(request: SignedInRequest, pk: int) -> HttpResponse:
    pin = _pin_or_404(request, pk)
    form = PinReportForm(request.POST)
    if not form.is_valid():
        if "reason" in form.errors:
            messages.error(request, "Choose a reason for the report.")
        else:
            messages.error(request, " ".join(str(error) for error in form.errors["detail"]))
        return redirect(pin)
    services.pin_report_create(
        pin=pin,
        reporter=request.user,
        reason=form.cleaned_data["reason"],
        detail=form.cleaned_data["detail"],
    )
    messages.success(request, "Thank you. Our staff will look at this pin.")
    return redirect(pin)


@login_required
@require_POST
def pin_delete(request: SignedInRequest, pk: int) -> HttpResponse:
    pin = _pin_or_404(request, pk)
    if pin.owner_id != request.user.pk:
        raise Http404("No such pin")
    services.pin_delete(pin=pin)
    messages.success(request, "Pin deleted.")
    return redirect(request.user.get_absolute_url())


@login_required
@require_safe
def pin_new(request: SignedInRequest) -> HttpResponse:
    """The upload page: pick or drop images, watch each upload, then describe and publish them."""
    boards = board_list_pinnable(user=request.user)
    if not boards:
        messages.info(request, "Make a board first: every pin lives on a board.")
        return redirect("boards:create")
    return render(
        request,
        "pins/pin_new.html",
        {
            "boards": boards,
            "selected": id_parse(request.GET.get("board")),
            "max_bytes": settings.MEDIA_MAX_UPLOAD_BYTES,
            "direct": storage.is_s3(),
            "details_form": PinDetailsForm(),
        },
    )


@login_required
@require_POST
def pin_publish(request: SignedInRequest) -> HttpResponse:
    """Create one pin from an uploaded asset; JSON for the upload page, a redirect for a form."""
    form = PinDetailsForm(request.POST)
    wants_json = "application/json" in request.headers.get("Accept", "")
    board = None
    if form.is_valid():
        # Only among the boards the person may add to: someone else's board, secret or not,
        # answers exactly as a missing id does ("Choose one of your boards.").
        board = board_pinnable(user=request.user).filter(pk=form.cleaned_data["board"]).first()
    if form.is_valid() and board is not None:
        asset = MediaAsset.objects.filter(
            pk=form.cleaned_data["asset"], owner=request.user, released_at__isnull=True
        ).first()
        if asset is None:
            form.add_error(None, "That upload is not yours or has expired. Upload the file again.")
        else:
            try:
                pin = services.pin_publish(
                    owner=request.user,
                    media_asset=asset,
                    board=board,
                    title=form.cleaned_data["title"],
                    description=form.cleaned_data["description"],
                    alt_text=form.cleaned_data["alt_text"],
                    source_url=form.cleaned_data["source_url"],
                )
            except ValidationError as error:
                form_add_service_errors(form, error)
            else:
                if wants_json:
                    return JsonResponse({"pin": pin.pk, "url": pin.get_absolute_url()}, status=201)
                messages.success(request, "Pin published.")
                return redirect(board)
    elif form.is_valid():
        form.add_error("board", "Choose one of your boards.")
    errors = {
        field: [e["message"] for e in errs] for field, errs in form.errors.get_json_data().items()
    }
    if wants_json:
        return JsonResponse({"errors": errors}, status=400)
    messages.error(request, " ".join(m for ms in errors.values() for m in ms))
    return redirect("pins:new")


@require_GET
def media_status(request: HttpRequest) -> JsonResponse:
    """Processing state of the pins in ``?ids=1,2,3`` the viewer may see, with their new URLs."""
    try:
        ids = ids_parse(request.GET.get("ids", ""), limit=100)
    except ValueError:
        return JsonResponse({"error": "ids must be comma-separated pin numbers."}, status=400)
    pins = selectors.pin_list_by_ids(user=request.user, ids=ids)
    result = {}
    for card in pin_cards(pins):
        result[card.pin.pk] = {
            "status": card.pin.media.status,
            "reason": card.pin.media.failure_reason if card.pin.owner_id == request.user.pk else "",
            "src": card.src,
            "srcset": card.srcset,
            "large": card.large_src,
            "color": card.color,
        }
    return JsonResponse({"pins": result})


@require_safe
@rate_limited(
    "search",
    methods=("GET", "HEAD"),
    message="Too many searches in a short time; try again in {wait}.",
)
def search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:200]
    try:
        page = (
            selectors.pin_search_page(
                user=request.user, query=query, cursor=request.GET.get("cursor"), limit=PAGE_SIZE
            )
            if query
            else selectors.GridPage([], None)
        )
    except ValueError:
        return broken_cursor(request)
    # Boards match on the full first page only; later pages and partial loads are more pins.
    first_page = not request.GET.get("cursor") and not request.GET.get("partial")
    return render_grid_page(
        request,
        "pins/search.html",
        pins=page.pins,
        next_cursor=page.next_cursor,
        query=query,
        boards=board_search(user=request.user, query=query) if query and first_page else [],
        words=search_words(query),
        more_query=urlencode({"q": query}),
    )
