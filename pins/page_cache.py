"""Cached pin ids for the grid pages, versioned by generation stamps (Redis, or memory locally).

**What is cached.** The ids (and the next cursor) of one page of a grid — the home feed, a board,
a profile, search results — and a pin's "more like this" ids. Never rendered HTML, never a pin's
fields. Every page then loads its pins *by id through* ``Pin.objects.visible_to(viewer)``, so an
entry that is out of date can at worst miss or misorder a pin: it can never show a pin the viewer
may not see (secret stays 404). Entries are per viewer (signed-out visitors share one).

**Invalidation by generation, not deletion.** Each key embeds generation stamps:

* ``content``: any write that changes which pins a page lists or in which order — a pin created,
  saved, edited, moderated or deleted; a board's pins, order, name, secrecy or deletion; a
  collaborator added or removed. (Model signals catch every write path, the admin's included;
  ``QuerySet.update`` and ``bulk_create`` send none, so their callers, and bulk loads, call
  ``content_changed`` themselves.)
* ``follows:<user id>``: that person followed or unfollowed someone or a board (their feed only).

A change writes a new stamp (the time in nanoseconds), so no old entry is read again; old entries
simply expire (``PAGE_CACHE_SECONDS``). No wide deletes, no key scans.

**Races.** A write inside a transaction stamps at once and again after commit, so a page computed
in between from the not-yet-committed state is retired by the second stamp. A read replica may
still be behind the writer for up to ``REPLICA_MAX_LAG`` plus the probe interval before it leaves
the rotation: for ``PAGE_CACHE_SETTLE_SECONDS`` after a stamp, pages are computed but not stored.

**Redis down.** The backend (``pinsite.cache_backend``) answers misses, so pages come from the
database. A stamp that could not be written is remembered by the process and written as soon as
Redis answers again, so an entry from before the outage is not served after it.

Counters (per process): hits, misses, bypasses and results not stored, per page kind, at ``/metrics``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

CONTENT = "pc:gen:content"
_lost: set[str] = set()  # stamps this process could not write (Redis down); written on recovery
_counts: Counter[tuple[str, str]] = Counter()
_lock = threading.Lock()


def _follows_key(user_id: int) -> str:
    return f"pc:gen:follows:{user_id}"


def _count(kind: str, outcome: str) -> None:
    with _lock:
        _counts[(kind, outcome)] += 1


def counts() -> dict[tuple[str, str], int]:
    """(page kind, outcome) -> count, in this process. Lookups are a hit, a miss, or a bypass
    (the cache could not be used: Redis unreachable); a miss whose result was too close to a change
    to keep also counts as not_stored."""
    with _lock:
        return dict(_counts)


def hit_rate() -> float | None:
    """Hits over lookups (hit or miss) in this process; None before any lookup."""
    with _lock:
        hits = sum(n for (_, outcome), n in _counts.items() if outcome == "hit")
        total = hits + sum(n for (_, outcome), n in _counts.items() if outcome == "miss")
    return hits / total if total else None


def reset_counts() -> None:
    with _lock:
        _counts.clear()


# --- Invalidation ------------------------------------------------------------------------------


def content_changed() -> None:
    """Retire every cached page: call after a write that changes what some page lists."""
    _bump([CONTENT])


def follows_changed(*, user_id: int) -> None:
    """Retire ``user_id``'s cached feed pages: call after they follow or unfollow."""
    _bump([_follows_key(user_id)])


def connect_signals() -> None:
    """Stamp on every save and delete of the rows pages are made of, whatever wrote them (services,
    the admin, the shell). Called once from ``PinsConfig.ready``."""
    from django.db.models.signals import post_delete, post_save

    from accounts.models import UserFollow
    from boards.models import Board, BoardCollaborator, BoardFollow, BoardPin
    from pins.models import Pin

    for model in (Pin, Board, BoardPin, BoardCollaborator):
        for signal in (post_save, post_delete):
            signal.connect(
                _on_content_row, sender=model, dispatch_uid=f"page_cache.{model.__name__}"
            )
    for model in (UserFollow, BoardFollow):
        for signal in (post_save, post_delete):
            signal.connect(
                _on_follow_row, sender=model, dispatch_uid=f"page_cache.{model.__name__}"
            )


def _on_content_row(sender, instance, **kwargs) -> None:
    from boards.models import Board

    if sender is Board and kwargs.get("created"):
        return  # a new board has no pins yet: no page lists anything new
    content_changed()


def _on_follow_row(sender, instance, **kwargs) -> None:
    follows_changed(user_id=instance.follower_id)


class StampOnCommit:
    """The after-commit stamp of one transaction: one callback for all its changes."""

    def __init__(self) -> None:
        self.keys: set[str] = set()

    def __call__(self) -> None:
        _write_stamps(sorted(self.keys))


def _bump(keys: list[str]) -> None:
    _write_stamps(keys)
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        return
    # One after-commit stamp per transaction (Django drops a transaction's callbacks when it
    # rolls back, so one found here belongs to this transaction).
    pending = next(
        (func for _, func, _ in connection.run_on_commit if isinstance(func, StampOnCommit)),
        None,
    )
    if pending is None:
        pending = StampOnCommit()
        transaction.on_commit(pending)
    pending.keys.update(keys)


def _write_stamps(keys) -> None:
    stamp = time.time_ns()
    failed = cache.set_many(dict.fromkeys(keys, stamp), timeout=None)
    with _lock:
        _lost.difference_update(keys)
        _lost.update(failed or [])


def _replay_lost() -> None:
    with _lock:
        lost = list(_lost)
    _write_stamps(lost)


# --- Lookup ------------------------------------------------------------------------------------


def _stamps(keys: list[str]) -> list[int] | None:
    """The current stamps of ``keys`` (missing ones are started now); None if unavailable."""
    found = cache.get_many(keys)
    if len(found) < len(keys):
        for key in keys:
            if key not in found:
                cache.add(key, time.time_ns(), timeout=None)  # another process may win: fine
        found = cache.get_many(keys)
        if len(found) < len(keys):
            return None
    if _lost:
        # Changes made while Redis did not answer: stamp them before any entry is used.
        _replay_lost()
        if _lost:
            return None
        found = cache.get_many(keys)
        if len(found) < len(keys):
            return None
    return [int(found[key]) for key in keys]


@dataclass
class Entry:
    """One cache slot for one page and viewer: ``value`` is None on a miss; ``store`` fills it."""

    kind: str
    key: str | None  # None: the cache cannot be used now (down, or a stamp is being replayed)
    stamp: int = 0
    value: Any = None

    def store(self, value: Any) -> None:
        """Keep ``value`` (plain data: ids, cursors) unless a change is too recent to trust."""
        if self.key is None:
            return
        if time.time_ns() - self.stamp < settings.PAGE_CACHE_SETTLE_SECONDS * 1e9:
            _count(self.kind, "not_stored")  # a lagging replica may have served this page
            return
        cache.set(self.key, value, timeout=settings.PAGE_CACHE_SECONDS)


def entry(kind: str, *, viewer, parts: tuple, follows: bool = False) -> Entry:
    """The cache slot for page ``kind`` with ``parts`` (e.g. board id and cursor) as ``viewer``
    sees it; ``follows``: the page also depends on whom the viewer follows (the feed)."""
    signed_in = viewer is not None and viewer.is_authenticated
    stamp_keys = [CONTENT] + ([_follows_key(viewer.pk)] if follows and signed_in else [])
    stamps = _stamps(stamp_keys)
    if stamps is None:
        _count(kind, "bypass")
        return Entry(kind, None)
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=12).hexdigest()
    who = viewer.pk if signed_in else "anon"
    key = f"pc:{kind}:{who}:{'.'.join(map(str, stamps))}:{digest}"
    value = cache.get(key)
    _count(kind, "miss" if value is None else "hit")
    return Entry(kind, key, max(stamps), value)


def prometheus_text() -> str:
    from pinsite.cache_backend import cache_counts

    lines = [
        "# HELP pinsite_page_cache_lookups_total Grid page id lookups by page kind and outcome.",
        "# TYPE pinsite_page_cache_lookups_total counter",
    ]
    for (kind, outcome), value in sorted(counts().items()):
        lines.append(
            f'pinsite_page_cache_lookups_total{{kind="{kind}",outcome="{outcome}"}} {value}'
        )
    rate = hit_rate()
    lines += [
        "# HELP pinsite_page_cache_hit_ratio Hits over lookups of grid page ids, this process.",
        "# TYPE pinsite_page_cache_hit_ratio gauge",
        f"pinsite_page_cache_hit_ratio {rate if rate is not None else 0:.4f}",
        "# HELP pinsite_cache_operations_total Cache backend answers (errors: Redis unreachable).",
        "# TYPE pinsite_cache_operations_total counter",
    ]
    for name, value in cache_counts().items():
        lines.append(f'pinsite_cache_operations_total{{result="{name}"}} {value}')
    return "\n".join(lines) + "\n"
