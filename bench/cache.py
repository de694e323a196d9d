"""The grid page cache's hit rate under a scripted mix of page views and writes.

Run by ``make bench`` (``python -m bench --only cache``) on the bench stack's PostgreSQL and
Redis; prints one JSON line with the ``cache`` figures. In process, with ``django.test.Client``:

* Data: the pages benchmark's seeded database at its QUICK size (``pinsite_pages_quick``,
  ``bench.pages.seed``), whatever ``--quick`` says: the hit rate depends on the mix, not on the
  table sizes, and the small database seeds in seconds. The primary only (no readers), so there
  is no settle window and the run is the same every time.
* Workload: ``VIEWS`` page views from one seeded random generator. Each view is by one of a few
  signed-in people (those who follow the most) or by a signed-out visitor, of the home feed, a
  board, a profile, a search or a pin page (its "more like this"); boards, people, pins and
  queries are drawn with a Zipf-like popularity (the n-th most popular weighs 1/n). Every
  ``WRITE_EVERY`` views one write through ``pins.services``: a new pin (an active person
  publishes one of their images on one of their boards) or a save of a popular pin, in turn.
* Three passes in the same run, each from a cold cache and the same data (the pins written are
  deleted after each pass): ``unscoped`` (``PAGE_CACHE_SCOPED`` off: one stamp, every write
  retires every page), ``scoped``, and ``no_writes`` (the same views without the writes: the
  ceiling, since the first view of each page by each viewer is always a miss). ``hit_rate`` =
  hits / (hits + misses) from ``page_cache.counts()``, overall and per page kind (feed, board,
  profile, search, board-search: the boards a search matches, pin-page: a pin page's related
  and newest saves' ids).
"""

from __future__ import annotations

import json
import os
import random
import sys
import time

VIEWS = 600
WRITE_EVERY = 30
SEED = 20261126
KIND_WEIGHTS = {"home": 25, "board": 30, "profile": 20, "search": 10, "pin": 15}
SIGNED_IN_VIEWERS = 6
ANONYMOUS_SHARE = 0.4  # of the views, by signed-out visitors
POPULAR = 200  # how many boards, people and pins the draws range over


def _log(message: str) -> None:
    print(f"[cache] {message}", file=sys.stderr, flush=True)


def _zipf(rng: random.Random, items: list):
    """One of ``items`` (most popular first): the n-th is drawn with weight 1/n."""
    weights = [1 / rank for rank in range(1, len(items) + 1)]
    return rng.choices(items, weights=weights)[0]


def targets() -> dict:
    """Viewers, writers and the pages they go to, most popular first, from the seeded data."""
    from django.db.models import Count

    from accounts.models import User
    from bench.pages import _board_path
    from bench.seed_bulk import WORDS
    from boards.models import Board
    from pins.models import Pin

    viewers = list(
        User.objects.annotate(follows=Count("following_users")).order_by("-follows", "id")[
            :SIGNED_IN_VIEWERS
        ]
    )
    boards = list(
        Board.objects.filter(is_secret=False)
        .annotate(size=Count("placements"))
        .select_related("owner")
        .order_by("-size", "id")[:POPULAR]
    )
    people = list(User.objects.annotate(made=Count("pins")).order_by("-made", "id")[:POPULAR])
    pins = list(
        Pin.objects.visible_to(None)
        .filter(parent=None)
        .annotate(saved=Count("saves"))
        .order_by("-saved", "id")
        .values_list("pk", flat=True)[:POPULAR]
    )
    words = [f"{a}+{b}" for a, b in zip(WORDS[0:40:2], WORDS[1:40:2], strict=True)]
    return {
        "viewers": viewers,
        "writers": [person for person in people if person.made > 0],
        "pins": pins,
        "paths": {
            "home": ["/"],
            "board": [_board_path(board) for board in boards],
            "profile": [person.get_absolute_url() for person in people],
            "search": [f"/search/?q={query}" for query in words],
            "pin": [f"/pin/{pk}/" for pk in pins],
        },
    }


def _write(rng: random.Random, chosen: dict, nth: int) -> int | None:
    """One write through the services (a new pin, then a save, in turn); the new pin's id, or
    None when the drawn person had nothing to write with."""
    from django.core.exceptions import ValidationError

    from boards.models import Board
    from pins import services
    from pins.models import Pin

    writer = _zipf(rng, chosen["writers"])
    boards = list(Board.objects.filter(owner=writer).order_by("id"))
    if not boards:
        return None
    board = rng.choice(boards)
    if nth % 2 == 0:
        own = Pin.objects.filter(owner=writer).order_by("id").select_related("media").first()
        if own is None:
            return None
        pin = services.pin_publish(
            owner=writer, media_asset=own.media, board=board, title=f"Bench pin {nth}"
        )
        return pin.pk
    original = Pin.objects.select_related("media").get(pk=_zipf(rng, chosen["pins"]))
    try:
        return services.pin_save(user=writer, pin=original, board=board).pk
    except ValidationError:  # already on that board: this round writes nothing
        return None


def workload(
    chosen: dict, *, scoped: bool, views: int = VIEWS, write_every: int | None = WRITE_EVERY
) -> dict:
    """One pass of the scripted mix from a cold cache (no writes when ``write_every`` is None);
    the hit rates, and the pins it wrote deleted again so the next pass starts from the same
    data."""
    from django.test import Client, override_settings

    from pins import services
    from pins.models import Pin
    from pinsite import page_cache

    rng = random.Random(SEED)  # noqa: S311 - a repeatable script, not a secret
    anonymous = Client(HTTP_HOST="127.0.0.1")
    signed_in = []
    for person in chosen["viewers"]:
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(person)
        signed_in.append(client)
    kinds, weights = list(KIND_WEIGHTS), list(KIND_WEIGHTS.values())
    written: list[int] = []
    failed = writes = 0
    # One client makes thousands of searches a minute here: the rate limits would answer 429.
    with override_settings(
        PAGE_CACHE_SCOPED=scoped, PAGE_CACHE_SETTLE_SECONDS=0, RATE_LIMITS_ENABLED=False
    ):
        page_cache.visibility_changed()  # cold: nothing from an earlier pass is served
        page_cache.reset_counts()
        began = time.monotonic()
        try:
            for view in range(1, views + 1):
                anon = rng.random() < ANONYMOUS_SHARE or not signed_in
                client = anonymous if anon else rng.choice(signed_in)
                kind = rng.choices(kinds, weights=weights)[0]
                path = _zipf(rng, chosen["paths"][kind])
                if client.get(path).status_code != 200:
                    failed += 1
                if write_every and view % write_every == 0:
                    writes += 1
                    pk = _write(rng, chosen, writes)
                    if pk is not None:
                        written.append(pk)
        finally:
            for pin in Pin.objects.filter(pk__in=written).order_by("-pk"):
                services.pin_delete(pin=pin)
        elapsed = time.monotonic() - began
        counts = page_cache.counts()
    return {
        **_rates(counts),
        "views": views,
        "writes": len(written),
        "failed_views": failed,
        "elapsed_s": round(elapsed, 1),
    }


def _rates(counts: dict[tuple[str, str], int]) -> dict:
    kinds = sorted({kind for kind, _ in counts})

    def rate(hits: int, misses: int) -> float | None:
        return round(hits / (hits + misses), 3) if hits + misses else None

    per_kind = {
        kind: {
            "hit_rate": rate(counts.get((kind, "hit"), 0), counts.get((kind, "miss"), 0)),
            "lookups": counts.get((kind, "hit"), 0) + counts.get((kind, "miss"), 0),
        }
        for kind in kinds
    }
    hits = sum(n for (_, outcome), n in counts.items() if outcome == "hit")
    misses = sum(n for (_, outcome), n in counts.items() if outcome == "miss")
    bypasses = sum(n for (_, outcome), n in counts.items() if outcome == "bypass")
    return {
        "hit_rate": rate(hits, misses),
        "lookups": hits + misses,
        "bypasses": bypasses,
        "per_kind": per_kind,
    }


def measure(chosen: dict, *, views: int = VIEWS, write_every: int = WRITE_EVERY) -> dict:
    """The mix with the single stamp, with scoped stamps, and without writes: the ceiling this
    mix allows (the first view of each page by each viewer is always a miss)."""
    old = workload(chosen, scoped=False, views=views, write_every=write_every)
    new = workload(chosen, scoped=True, views=views, write_every=write_every)
    ceiling = workload(chosen, scoped=True, views=views, write_every=None)
    return {"unscoped": old, "scoped": new, "no_writes": ceiling}


def run(*, quick: bool) -> dict:
    import django

    from bench.pages import QUICK, _database_urls, seed

    name = "pinsite_pages_quick"  # always the small database: see the module's docstring
    writer, _ = _database_urls(name)
    env = {
        **os.environ,
        "DATABASE_URL": writer,
        "DATABASE_REPLICA_URLS": "",
        "DJANGO_SETTINGS_MODULE": "pinsite.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_STATIC_MANIFEST": "false",  # pages only; no collectstatic
        "LOG_LEVEL": "WARNING",
    }
    began = time.monotonic()
    seeded = seed(env, name, QUICK)
    _log(f"data ready in {time.monotonic() - began:.1f} s: {seeded}")
    os.environ.update(env)
    django.setup()
    chosen = targets()
    figures = measure(chosen)
    return {
        "data": {key: seeded[key] for key in ("users", "boards", "pins")},
        "workload": {
            "views": VIEWS,
            "write_every": WRITE_EVERY,
            "kinds": KIND_WEIGHTS,
            "signed_in_viewers": len(chosen["viewers"]),
            "anonymous_share": ANONYMOUS_SHARE,
            "popularity": f"Zipf-like (1/n) over the top {POPULAR} boards, people and pins",
            "seed": SEED,
        },
        "hit_rate": figures["scoped"]["hit_rate"],
        "hit_rate_unscoped": figures["unscoped"]["hit_rate"],
        "hit_rate_no_writes": figures["no_writes"]["hit_rate"],
        **figures,
        "elapsed_s": round(time.monotonic() - began, 1),
    }


if __name__ == "__main__":
    print(json.dumps(run(quick=True)))
