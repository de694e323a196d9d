"""Test data for boards."""

from __future__ import annotations

import itertools

from accounts.models import User
from boards.models import Board
from boards.services import board_create

_counter = itertools.count(1)


def make_board(owner: User, name: str | None = None, *, is_secret: bool = False) -> Board:
    return board_create(owner=owner, name=name or f"Board {next(_counter)}", is_secret=is_secret)
