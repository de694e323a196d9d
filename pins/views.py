from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from boards.models import Board
from boards.selectors import board_list_for_pin, board_list_pinnable, board_search
from boards.services import board_create
from pins import placeholders, selectors, services, storage, tier_access, tier_restore
from pins.forms import PinDetailsForm, PinReportForm, PinSaveForm, PinUploadForm
from pins.models import MediaAsset, Pin
from pins.tier_restore import ARCHIVED_TIERS
from pinsite.form_errors import form_add_service_errors

logger = logging.getLogger(__name__)
STORAGE_ERRORS = (BotoCoreError, ClientError, OSError)
GRID_SIZES = "(max-width: 520px) 50vw, 236px"
# The grid lays cards on rows this many pixels tall; a card spans as many as its image needs.
GRID_ROW_PX = 8
GRID_COLUMN_PX = 236
CARD_CAPTION_PX = 32
FEED_PAGE_SIZE = 30
# Board, profile and search pages.
PAGE_SIZE = 50


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


def pin_detail(request: HttpRequest, pk: int) -> HttpResponse:
    pin = _pin_or_404(request, pk)
    context = _pin_page_context(request, pin)
    tier_access.record([pin.media_id])  # its large view's URL was handed out (no DB write)
    if context["card"].preparing:
        tier_restore.tier_restore_request(asset_id=pin.media_id)
    return render(request, "pins/pin_detail.html", context)


@login_required
@require_POST
def pin_save(request: HttpRequest, pk: int) -> HttpResponse:
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
def pin_report(request: HttpRequest, pk: int) -> HttpResponse:
    pin = _pin_or_404(request, pk)
    form = PinReportForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a reason for the report.")
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
def pin_delete(request: HttpRequest, pk: int) -> HttpResponse:
    pin = _pin_or_404(request, pk)
    if pin.owner_id != request.user.pk:
        raise Http404("No such pin")
    services.pin_delete(pin=pin)
    messages.success(request, "Pin deleted.")
    return redirect(request.user.get_absolute_url())


@login_required
def pin_new(request: HttpRequest) -> HttpResponse:
    """The upload page: pick or drop images, watch each upload, then describe and publish them."""
    boards = board_list_pinnable(user=request.user)
    if not boards:
        messages.info(request, "Make a board first: every pin lives on a board.")
        return redirect("boards:create")
    selected = request.GET.get("board")
    return render(
        request,
        "pins/pin_new.html",
        {
            "boards": boards,
            "selected": int(selected) if selected and selected.isdigit() else None,
            "max_bytes": settings.MEDIA_MAX_UPLOAD_BYTES,
            "direct": storage.is_s3(),
            "details_form": PinDetailsForm(),
        },
    )


@login_required
@require_POST
def pin_upload(request: HttpRequest) -> JsonResponse:
    """Receive one file (the embedded default's upload path); JSON with the asset or the error."""
    form = PinUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return JsonResponse(
            {"error": form.errors.get_json_data()["file"][0]["message"]}, status=400
        )
    upload = form.cleaned_data["file"]
    try:
        asset = services.media_asset_create(owner=request.user, data=upload.read())
    except ValidationError as error:
        return JsonResponse({"error": error.messages[0], "code": error.code}, status=400)
    except STORAGE_ERRORS:
        return _storage_unavailable("upload")
    return _asset_reply(request, asset)


def _asset_reply(request: HttpRequest, asset: MediaAsset) -> JsonResponse:
    existing = selectors.pin_for_asset(user=request.user, asset=asset)
    return JsonResponse(
        {
            "asset": asset.pk,
            "width": asset.width,
            "height": asset.height,
            "status": asset.status,
            "duplicate_of": existing.get_absolute_url() if existing else None,
        },
        status=201,
    )


def _storage_unavailable(action: str) -> JsonResponse:
    logger.exception("media storage failed during %s", action)
    return JsonResponse(
        {"error": "Storage is not answering right now; nothing was saved. Try again in a minute."},
        status=503,
    )


@login_required
@require_POST
def pin_upload_start(request: HttpRequest) -> JsonResponse:
    """Direct upload, step 1 (S3 only): the form the browser posts the file to S3 with."""
    if not storage.is_s3():
        return JsonResponse({"error": "Direct uploads need S3; post the file here."}, status=404)
    try:
        pending, form = services.upload_start(
            owner=request.user, media_type=request.POST.get("kind", "image")
        )
    except ValidationError as error:
        return JsonResponse({"error": error.messages[0], "code": error.code}, status=400)
    except STORAGE_ERRORS:
        return _storage_unavailable("upload start")
    return JsonResponse(
        {"upload": pending.pk, "url": form["url"], "fields": form["fields"]}, status=201
    )


@login_required
@require_POST
def pin_upload_confirm(request: HttpRequest) -> JsonResponse:
    """Direct upload, step 2: the browser says the file is in S3; the server checks it."""
    try:
        upload_id = int(request.POST.get("upload", ""))
    except ValueError:
        return JsonResponse({"error": "Say which upload is done."}, status=400)
    try:
        asset = services.upload_confirm(owner=request.user, upload_id=upload_id)
    except ValidationError as error:
        return JsonResponse({"error": error.messages[0], "code": error.code}, status=400)
    except STORAGE_ERRORS:
        return _storage_unavailable("upload confirm")
    return _asset_reply(request, asset)


@login_required
@require_POST
def pin_publish(request: HttpRequest) -> HttpResponse:
    """Create one pin from an uploaded asset; JSON for the upload page, a redirect for a form."""
    form = PinDetailsForm(request.POST)
    wants_json = "application/json" in request.headers.get("Accept", "")
    board = None
    if form.is_valid():
        board = Board.objects.filter(pk=form.cleaned_data["board"]).first()
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
        ids = [int(part) for part in request.GET.get("ids", "").split(",") if part][:100]
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
        words=selectors.search_words(query),
        more_query=urlencode({"q": query}),
    )
