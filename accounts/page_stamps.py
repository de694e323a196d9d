"""Which cached pages following someone retires (their follower's feed). Connected in
``AccountsConfig.ready()``."""

from __future__ import annotations

from accounts.models import UserFollow
from pinsite import page_cache


def _on_follow_row(sender, instance, **kwargs) -> None:
    page_cache.follows_changed(user_id=instance.follower_id)


def connect() -> None:
    page_cache.connect(UserFollow, saved=_on_follow_row, deleted=_on_follow_row)
