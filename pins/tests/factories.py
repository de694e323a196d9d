"""Test data builders. Plain functions: each makes a valid row through the services or the ORM."""

from __future__ import annotations

import itertools

from accounts.models import User
from accounts.tests.factories import make_user  # noqa: F401 - re-exported for the pins tests
from boards.models import Board
from boards.tests.factories import make_board
from media.tests.factories import make_asset
from pins.models import Pin
from pins.services import pin_create

_counter = itertools.count(1)


def make_pin(owner: User, board: Board | None = None, **fields) -> Pin:
    board = board or make_board(owner)
    media = fields.pop("media_asset", None) or make_asset(owner)
    return pin_create(owner=owner, media_asset=media, board=board, **fields)


# --- Images for the media pipeline's tests --------------------------------------------------


# --- Stored objects for the tiering tests ---------------------------------------------------
