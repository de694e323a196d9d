"""Cached pin ids for the grid pages, versioned by generation stamps (Redis, or memory locally).

**What is cached.** The ids (and the next cursor) of one page of a grid — the home feed, a board,
a profile, search results and the boards matching a search — and a pin page's "more like this"
and newest saves' ids together. Never rendered HTML, never a pin's fields. Every page then loads its pins *by id through* ``Pin.objects.visible_to(viewer)``, so an
entry that is out of date can at worst miss or misorder a pin: it can never show a pin the viewer
may not see (secret stays 404). Entries are per viewer (signed-out visitors share one).

**Invalidation by generation, not deletion.** Each key embeds the generation stamps of the
scopes its page depends on, so a write retires only the pages it can change:

* ``vis`` (every page): what makes a pin visible or not — a board's secrecy or owner, a board
  deleted, a collaborator added or removed, a pin's moderation or owner. Rare; retires everything,
  because a pin that becomes visible must be listed on the very next view of any page.
* ``stream`` (home feed, search, "more like this" and a pin page's saves: they depend on every
  pin): a pin created, saved, edited or deleted; a pin placed on, moved between or taken off a
  board; a board renamed.
* ``board:<id>`` (that board's page): its pins added, removed or reordered; the board edited.
* ``owner:<id>`` (that person's profile): their pins created, edited, deleted, placed or moved.
* ``follows:<user id>`` (that person's feed): they followed or unfollowed someone or a board.
* ``boards`` (the boards that match a search): a board created, renamed or described anew.

So a new pin by X on board B retires the feed, search and "more like this", X's profile and B's
page; every other board and profile stays cached. A write that makes a pin invisible could
leave it out by the gate alone; it stamps anyway, so pages keep their full length. Model signals
catch every write path, the admin's and the shell's included (a save that may change visibility
is told apart by reading the row's old values first); ``QuerySet.update`` and ``bulk_create``
send none, so their callers stamp by hand (``visibility_changed``, ``board_changed``), and bulk
loads call ``visibility_changed``, which retires everything. ``PAGE_CACHE_SCOPED = False`` falls
back to one stamp for all of it (every write retires every page).

A change writes a new stamp (the time in nanoseconds), so no old entry is read again; old entries
simply expire (``PAGE_CACHE_SECONDS`` after they were last kept: an entry still being read in the
second half of its life is kept again). No wide deletes, no key scans.

**Races.** A write inside a transaction stamps at once and again after commit, so a page computed
in between from the not-yet-committed state is retired by the second stamp. A read replica may
still be behind the writer for up to ``REPLICA_MAX_LAG`` plus the probe interval before it leaves
the rotation: for ``PAGE_CACHE_SETTLE_SECONDS`` after a stamp, pages are computed but not stored.

**Redis down.** The backend (``pinsite.cache_backend``) answers misses at once while its circuit
breaker is open. Pages then keep their ids for ``PAGE_CACHE_OUTAGE_SECONDS`` in the process's own
memory (at most ``OUTAGE_ENTRIES`` of them), so a Redis outage does not send every page down the
database's cold path: a change made in this process retires them all at once, one made in
another process shows within those seconds (as a reader's lag would), and a request whose browser
has just written (the router's read-your-writes pin) never uses them. They are loaded through the
visibility gate like any entry, so they can never show a pin the viewer may not see; 0 turns
this off. A stamp that could not be written is remembered by the process and written as soon as
Redis answers again, so an entry from before the outage is not served after it.

Counters (per process): hits, misses, bypasses and results not stored, per page kind, at ``/metrics``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save

from pinsite.cache_backend import cache_counts
from pinsite.db.router import current_scope

VISIBILITY = "pc:gen:vis"
STREAM = "pc:gen:stream"
BOARDS = "pc:gen:boards"
_lost: set[str] = set()  # stamps this process could not write (Redis down); written on recovery
# Ids of pages kept in this process while Redis is down: key -> (kept until, value).
OUTAGE_ENTRIES = 2000
_outage: OrderedDict[str, tuple[float, Any]] = OrderedDict()
_outage_cleared_at = 0.0  # time.monotonic() of this process's last stamp
_counts: Counter[tuple[str, str]] = Counter()
_lock = threading.Lock()


def _follows_key(user_id: int) -> str:
    return f"pc:gen:follows:{user_id}"


def board_scope(board_id: int) -> str:
    """The stamp of one board's page."""
    return f"pc:gen:board:{board_id}"


def owner_scope(user_id: int) -> str:
    """The stamp of one person's profile page."""
    return f"pc:gen:owner:{user_id}"


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


def visibility_changed() -> None:
    """Retire every cached page: call after a write that may make a pin visible or not to someone
    (moderation, secrecy, membership)."""
    _bump([VISIBILITY])


def pins_changed(*, owner_ids: Iterable[int] = (), board_ids: Iterable[int] = ()) -> None:
    """Retire the feed, search and "more like this", and the profiles of ``owner_ids`` and pages
    of ``board_ids``: call after pins were made, edited, deleted or placed."""
    _bump([STREAM, *map(owner_scope, owner_ids), *map(board_scope, board_ids)])


def board_changed(*, board_id: int) -> None:
    """Retire the pages of one board: call after its pins were reordered."""
    _bump([board_scope(board_id)])


def follows_changed(*, user_id: int) -> None:
    """Retire ``user_id``'s cached feed pages: call after they follow or unfollow."""
    _bump([_follows_key(user_id)])


def connect(model, *, saved, deleted, before=None) -> None:
    """Stamp on every save and delete of ``model``'s rows, whatever wrote them (services, the
    admin, the shell). Each app connects the models its pages are made of in ``ready()``."""
    uid = f"page_cache.{model._meta.label}"
    if before is not None:
        pre_save.connect(before, sender=model, dispatch_uid=uid)
    post_save.connect(saved, sender=model, dispatch_uid=uid)
    post_delete.connect(deleted, sender=model, dispatch_uid=uid)


def remember_old_values(sender, instance, fields: tuple[str, ...], using, update_fields) -> None:
    """Keep the row's stored ``fields`` on the instance before an update that may change them, so
    the post_save handler can tell which scopes the save reaches (None: a new row)."""
    instance._page_cache_old = None
    if instance.pk is None or instance._state.adding:
        return
    names = {name for field in fields for name in (field, field.removesuffix("_id"))}
    if update_fields is not None and not names & set(update_fields):
        instance._page_cache_old = {field: getattr(instance, field) for field in fields}
        return
    instance._page_cache_old = (
        sender._default_manager.using(using).filter(pk=instance.pk).values(*fields).first()
    )


def old_values(instance) -> dict | None:
    """What ``remember_old_values`` kept (None: a new row, or not remembered)."""
    return getattr(instance, "_page_cache_old", None)


def changed(instance, fields: tuple[str, ...]) -> bool:
    old = old_values(instance)
    return old is None or any(old[field] != getattr(instance, field) for field in fields)


def boards_changed(*, board_id: int | None = None) -> None:
    """A board was made (``board_id`` None: only board search can change) or renamed or
    described anew (its page, the stream and board search)."""
    if board_id is None:
        _bump([BOARDS])
    else:
        _bump([STREAM, BOARDS, board_scope(board_id)])


class StampOnCommit:
    """The after-commit stamp of one transaction: one callback for all its changes."""

    def __init__(self) -> None:
        self.keys: set[str] = set()

    def __call__(self) -> None:
        _write_stamps(sorted(self.keys))


def _unscoped(keys: list[str]) -> list[str]:
    """``keys`` as they were before the scopes (PAGE_CACHE_SCOPED off): one stamp for all pins."""
    if settings.PAGE_CACHE_SCOPED:
        return keys
    return sorted({key if key.startswith("pc:gen:follows:") else VISIBILITY for key in keys})


def _bump(keys: list[str]) -> None:
    keys = _unscoped(keys)
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
    _outage_clear()
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


def _outage_clear() -> None:
    global _outage_cleared_at
    with _lock:
        _outage.clear()
        _outage_cleared_at = time.monotonic()


def _outage_read(key: str) -> Any:
    with _lock:
        found = _outage.get(key)
        if found is None:
            return None
        if found[0] < time.monotonic():
            del _outage[key]
            return None
        _outage.move_to_end(key)
        return found[1]


def _outage_keep(key: str, value: Any) -> None:
    now = time.monotonic()
    with _lock:
        if now - _outage_cleared_at < settings.PAGE_CACHE_SETTLE_SECONDS:
            return  # as for shared entries: a reader may still lag behind that change
        _outage[key] = (now + settings.PAGE_CACHE_OUTAGE_SECONDS, value)
        _outage.move_to_end(key)
        while len(_outage) > OUTAGE_ENTRIES:
            _outage.popitem(last=False)


def _just_wrote() -> bool:
    """Whether this request's browser wrote moments ago (its reads are pinned to fresh data)."""
    scope = current_scope()
    return scope is not None and (scope.wrote or scope.pin_until > time.time())


@dataclass
class Entry:
    """One cache slot for one page and viewer: ``value`` is None on a miss; ``store`` fills it."""

    kind: str
    key: str | None  # None: the cache cannot be used now (down, or a stamp is being replayed)
    stamp: int = 0
    value: Any = None
    outage_key: str | None = None  # set: Redis is down, keep the ids in this process instead

    def store(self, value: Any) -> None:
        """Keep ``value`` (plain data: ids, cursors) unless a change is too recent to trust."""
        if self.outage_key is not None:
            _outage_keep(self.outage_key, value)
            return
        if self.key is None:
            return
        if time.time_ns() - self.stamp < settings.PAGE_CACHE_SETTLE_SECONDS * 1e9:
            _count(self.kind, "not_stored")  # a lagging replica may have served this page
            return
        _keep(self.key, value)


_FORMAT = "pc1"  # an entry is (_FORMAT, when it was kept, value)


def _keep(key: str, value: Any) -> None:
    cache.set(key, (_FORMAT, time.time(), value), timeout=settings.PAGE_CACHE_SECONDS)


def _read(key: str) -> Any:
    """The value kept at ``key``, or None. An entry read in the second half of its life is kept
    again for a whole ``PAGE_CACHE_SECONDS``: a page people keep viewing does not fall out of
    the cache every few minutes to be computed again (its stamps, not its age, say whether it is
    current). One write per entry per half-life."""
    found = cache.get(key)
    if not (isinstance(found, tuple) and len(found) == 3 and found[0] == _FORMAT):
        return None  # a miss, or an entry in an older format
    _, kept_at, value = found
    if time.time() - kept_at > settings.PAGE_CACHE_SECONDS / 2:
        _keep(key, value)
    return value


def entry(kind: str, *, viewer, parts: tuple, scopes: list[str], follows: bool = False) -> Entry:
    """The cache slot for page ``kind`` with ``parts`` (e.g. board id and cursor) as ``viewer``
    sees it. ``scopes``: the stamps besides visibility the page depends on (``STREAM``,
    ``board_scope(id)``, ``owner_scope(id)``); ``follows``: the page also depends on whom the
    viewer follows (the feed)."""
    signed_in = viewer is not None and viewer.is_authenticated
    follow_keys = [_follows_key(viewer.pk)] if follows and signed_in else []
    stamp_keys = _unscoped([VISIBILITY, *scopes]) + follow_keys
    stamps = _stamps(stamp_keys)
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=12).hexdigest()
    who = viewer.pk if signed_in else "anon"
    if stamps is None:
        if settings.PAGE_CACHE_OUTAGE_SECONDS <= 0 or _just_wrote():
            _count(kind, "bypass")
            return Entry(kind, None)
        local_key = f"pc:{kind}:{who}:{'.'.join(stamp_keys)}:{digest}"
        value = _outage_read(local_key)
        _count(kind, "outage_miss" if value is None else "outage_hit")
        return Entry(kind, None, value=value, outage_key=local_key)
    key = f"pc:{kind}:{who}:{'.'.join(map(str, stamps))}:{digest}"
    value = _read(key)
    _count(kind, "miss" if value is None else "hit")
    return Entry(kind, key, max(stamps), value)


def prometheus_text() -> str:
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
