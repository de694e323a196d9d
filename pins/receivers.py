"""Pins' answers to what boards tells it (``boards.signals``); boards never imports pins."""

from __future__ import annotations

from django.dispatch import receiver

from boards.models import Board
from boards.signals import board_deleting
from pins.models import Pin
from pins.services import pin_delete


@receiver(board_deleting, dispatch_uid="pins.board_deleting")
def delete_pins_only_on_board(sender, *, board: Board, **kwargs) -> None:
    """Delete the pins on ``board`` that are on no other board (call inside the deleting
    transaction). Pins also on another board stay; only their placement here goes."""
    on_board = Pin.objects.filter(placements__board=board)
    for pin in on_board.exclude(placements__board__in=Board.objects.exclude(pk=board.pk)):
        pin_delete(pin=pin)
