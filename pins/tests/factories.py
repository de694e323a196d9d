"""Test data builders. Plain functions: each makes a valid row through the services or the ORM."""

from __future__ import annotations

import io
import itertools
import uuid

from PIL import Image

from accounts.models import User
from accounts.services import user_create
from boards.models import Board
from boards.services import board_create
from pins.models import MediaAsset, Pin
from pins.services import pin_create

_counter = itertools.count(1)


def make_user(username: str | None = None, **kwargs) -> User:
    return user_create(
        username=username or f"person{next(_counter)}", password="pw-for-tests", **kwargs
    )


def make_board(owner: User, name: str | None = None, *, is_secret: bool = False) -> Board:
    return board_create(owner=owner, name=name or f"Board {next(_counter)}", is_secret=is_secret)


def make_asset(owner: User | None = None, **fields) -> MediaAsset:
    """An asset row without bytes in storage: enough for anything that does not read the file."""
    defaults = {
        "original_key": f"originals/test/{uuid.uuid4().hex}.jpg",
        "format": "jpeg",
        "width": 800,
        "height": 600,
        "byte_size": 12345,
        "status": MediaAsset.Status.READY,
    }
    return MediaAsset.objects.create(owner=owner, **{**defaults, **fields})


def make_pin(owner: User, board: Board | None = None, **fields) -> Pin:
    board = board or make_board(owner)
    media = fields.pop("media_asset", None) or make_asset(owner)
    return pin_create(owner=owner, media_asset=media, board=board, **fields)


def image_bytes(
    width: int = 640, height: int = 480, fmt: str = "JPEG", color=(200, 40, 40), **save
) -> bytes:
    buffer = io.BytesIO()
    mode = "RGBA" if fmt == "PNG" and save.pop("alpha", False) else "RGB"
    Image.new(mode, (width, height), color).save(buffer, format=fmt, **save)
    return buffer.getvalue()
