"""What boards tells the apps built on it, so they can act without boards importing them."""

from django.dispatch import Signal

# Sent by ``board_delete`` with ``board``, inside its transaction, before the board's row goes:
# pins deletes the pins that are on no other board (releasing their media).
board_deleting = Signal()
