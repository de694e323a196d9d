from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from boards.models import Board
from boards.selectors import board_get_visible
from pins.selectors import pin_list_for_board
from pins.views import GRID_SIZES, pin_card


def board_detail(request: HttpRequest, username: str, slug: str) -> HttpResponse:
    try:
        board = board_get_visible(user=request.user, username=username, slug=slug)
    except Board.DoesNotExist:
        raise Http404("No such board") from None
    pins = pin_list_for_board(user=request.user, board=board)
    return render(
        request,
        "boards/board_detail.html",
        {"board": board, "cards": [pin_card(pin) for pin in pins], "sizes": GRID_SIZES},
    )
