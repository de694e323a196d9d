from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.http import SignedInRequest
from accounts.models import User
from boards import services
from boards.forms import BoardForm, CollaboratorForm
from boards.models import Board
from boards.selectors import board_get_visible
from pins.grid import PAGE_SIZE, broken_cursor, render_grid_page
from pins.selectors import pin_page_for_board
from pinsite.form_errors import form_add_service_errors
from pinsite.ids import id_parse


def _visible_board(request: HttpRequest, username: str, slug: str) -> Board:
    try:
        return board_get_visible(user=request.user, username=username, slug=slug)
    except Board.DoesNotExist:
        raise Http404("No such board") from None


def _owned_board(request: HttpRequest, username: str, slug: str) -> Board:
    board = _visible_board(request, username, slug)
    if board.owner_id != request.user.pk:
        # Collaborators and visitors may look, not manage; hiding the page keeps it simple.
        raise Http404("No such board")
    return board


@require_safe
def board_detail(request: HttpRequest, username: str, slug: str) -> HttpResponse:
    board = _visible_board(request, username, slug)
    try:
        page = pin_page_for_board(
            user=request.user, board=board, cursor=request.GET.get("cursor"), limit=PAGE_SIZE
        )
    except ValueError:
        return broken_cursor(request)
    user = request.user
    is_owner = user.is_authenticated and board.owner_id == user.pk
    can_add = is_owner or board.viewer_is_member
    return render_grid_page(
        request,
        "boards/board_detail.html",
        pins=page.pins,
        next_cursor=page.next_cursor,
        board=board,
        is_owner=is_owner,
        can_add=can_add,
        reorder_url=reverse("boards:reorder", args=[board.owner.username, board.slug])
        if can_add
        else "",
        following=board.viewer_follows,
        members=board.memberships.select_related("user").order_by("user__username"),
        collaborator_form=CollaboratorForm(),
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def board_create(request: SignedInRequest) -> HttpResponse:
    form = BoardForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            board = services.board_create(
                owner=request.user,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                is_secret=form.cleaned_data["is_secret"],
            )
        except ValidationError as error:
            form_add_service_errors(form, error)
        else:
            messages.success(request, f"Board “{board.name}” created.")
            return redirect(board)
    return render(request, "boards/board_form.html", {"form": form, "creating": True})


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def board_edit(request: SignedInRequest, username: str, slug: str) -> HttpResponse:
    board = _owned_board(request, username, slug)
    form = BoardForm(request.POST or None, instance=Board.objects.get(pk=board.pk))
    if request.method == "POST" and form.is_valid():
        try:
            board = services.board_update(
                board=board,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                is_secret=form.cleaned_data["is_secret"],
            )
        except ValidationError as error:
            form_add_service_errors(form, error)
        else:
            messages.success(request, "Board saved.")
            return redirect(board)
    return render(request, "boards/board_form.html", {"form": form, "board": board})


@login_required
@require_POST
def board_delete(request: SignedInRequest, username: str, slug: str) -> HttpResponse:
    board = _owned_board(request, username, slug)
    name = board.name
    services.board_delete(board=board)
    messages.success(request, f"Board “{name}” deleted.")
    return redirect(request.user.get_absolute_url())


@login_required
@require_POST
def board_follow(request: SignedInRequest, username: str, slug: str) -> HttpResponse:
    board = _visible_board(request, username, slug)
    if request.POST.get("action") == "unfollow":
        services.board_unfollow(follower=request.user, board=board)
        messages.success(request, f"You no longer follow “{board.name}”.")
    else:
        services.board_follow(follower=request.user, board=board)
        messages.success(request, f"You follow “{board.name}”; its new pins show in your feed.")
    return redirect(board)


@login_required
@require_POST
def board_members(request: SignedInRequest, username: str, slug: str) -> HttpResponse:
    board = _visible_board(request, username, slug)
    if board.owner_id != request.user.pk and not board.viewer_is_member:
        # Members are the owner's and collaborators' business (the service says who may do
        # what); anyone else gets the 404 of a board that does not exist.
        raise Http404("No such board")
    form = CollaboratorForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the username of the person to invite.")
        return redirect(board)
    person = User.objects.filter(username__iexact=form.cleaned_data["username"].strip()).first()
    if person is None:
        messages.error(request, f"Nobody is called “{form.cleaned_data['username']}”.")
        return redirect(board)
    try:
        if request.POST.get("action") == "remove":
            services.board_collaborator_remove(board=board, user=person, removed_by=request.user)
            messages.success(request, f"{person.username} is no longer on this board.")
        else:
            services.board_collaborator_add(board=board, user=person, invited_by=request.user)
            messages.success(request, f"{person.username} can now add pins to this board.")
    except ValidationError as error:
        messages.error(request, error.messages[0])
    if request.POST.get("action") == "remove" and person.pk == request.user.pk:
        return redirect("pins:home")
    return redirect(board)


@login_required
@require_POST
def board_reorder(request: SignedInRequest, username: str, slug: str) -> HttpResponse:
    """Move one pin: JSON or form body with ``pin`` and ``before`` (empty for the end)."""
    board = _visible_board(request, username, slug)
    if not services.board_can_add_pins(board=board, user=request.user):
        raise Http404("No such board")
    try:
        # Malformed JSON (a ValueError) or a body that is not an object is the client's mistake too.
        data = (
            json.loads(request.body or b"{}")
            if request.content_type == "application/json"
            else request.POST
        )
        if not isinstance(data, dict):
            raise ValueError("the body is not an object")
        pin_id = id_parse(data.get("pin"))
        before = data.get("before")
        before_id = id_parse(before) if before is not None and before != "" else None
        if pin_id is None or (before_id is None and before not in (None, "")):
            raise ValueError("not a pin id")
        placement = services.board_pin_move(board=board, pin_id=pin_id, before_id=before_id)
    except (TypeError, ValueError):
        return JsonResponse(
            {"error": "Give the pin to move and the pin to put it before."}, status=400
        )
    except board.placements.model.DoesNotExist:
        return JsonResponse({"error": "That pin is not on this board."}, status=400)
    if request.content_type == "application/json":
        return JsonResponse({"pin": pin_id, "position": placement.position})
    return redirect(board)
