"""Test data for accounts."""

from __future__ import annotations

import itertools

from accounts.models import User
from accounts.services import user_create

_counter = itertools.count(1)


def make_user(username: str | None = None, **kwargs) -> User:
    return user_create(
        username=username or f"person{next(_counter)}", password="pw-for-tests", **kwargs
    )
