"""The grid pages' cache (pinsite/page_cache.py) on the session's real Redis: every change a page
depends on shows on the very next page, secret stays 404 through the cache, and Redis being
killed or hung costs speed, never a page.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from dataclasses import dataclass
from typing import cast

import pytest
from django.core.cache import caches
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.services import user_follow, user_unfollow
from accounts.tests.factories import make_user
from boards.models import BoardPin
from boards.services import (
    board_collaborator_add,
    board_collaborator_remove,
    board_pin_move,
    board_update,
)
from boards.tests.factories import make_board
from media.tests.factories import make_ready_asset
from pins.models import Pin
from pins.services import pin_delete, pin_moderate, pin_save
from pins.tests.factories import make_pin
from pinsite import page_cache
from pinsite.cache_backend import ResilientRedisCache
from pinsite.db.router import PIN_COOKIE, format_pin
from stack.pytest_plugin import require_stack
from stack.redis_server import RedisServer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def settle_now(settings):
    """No settle window: the test reads the writer, so a page may be kept right after a change
    (the window itself is tested below)."""
    settings.PAGE_CACHE_SETTLE_SECONDS = 0


def _pin(owner, board, **fields) -> Pin:
    return make_pin(owner, board, media_asset=make_ready_asset(owner), **fields)


def _hits() -> int:
    return sum(n for (_, outcome), n in page_cache.counts().items() if outcome == "hit")


def _shows(client, url: str, pin: Pin) -> bool:
    response = client.get(url)
    assert response.status_code == 200, url
    return f'href="/pin/{pin.pk}/"' in response.content.decode()


def _warm(client, *urls: str) -> None:
    """Load each page twice; the second load must come from the cache."""
    for url in urls:
        client.get(url)
        before = _hits()
        assert client.get(url).status_code == 200
        assert _hits() > before, f"{url} was not served from the cache"


def test_the_cache_is_the_sessions_redis():
    require_stack()
    assert isinstance(caches["default"], ResilientRedisCache)


def _grid(html: bytes) -> str:
    """The page's grid of cards (the rest of a page, its CSRF token, changes per response)."""
    text = html.decode()
    return text[text.index('<ul class="grid"') : text.index("</ul>", text.index('class="grid"'))]


def test_a_cached_page_costs_fewer_queries_and_the_same_cards(client):
    owner = make_user()
    board = make_board(owner, "Lakes")
    for index in range(5):
        _pin(owner, board, title=f"Lake {index}")
    for url in ("/", board.get_absolute_url(), owner.get_absolute_url(), "/search/?q=lake"):
        with CaptureQueriesContext(connection) as cold:
            first = client.get(url).content
        with CaptureQueriesContext(connection) as warm:
            second = client.get(url).content
        assert _grid(second) == _grid(first)
        assert len(warm) <= len(cold), url


def test_a_board_made_secret_disappears_everywhere_at_once_and_comes_back(client):
    owner, stranger = make_user(), make_user()
    board = make_board(owner, "Holiday")
    pin = _pin(owner, board, title="Beach hut")
    other = _pin(owner, make_board(owner), title="Beach ball")  # keeps the pages non-empty
    client.force_login(stranger)
    urls = ["/", board.get_absolute_url(), owner.get_absolute_url(), "/search/?q=beach"]
    urls.append(other.get_absolute_url())  # "more like this" (same owner, same word)
    _warm(client, *urls)
    assert all(_shows(client, url, pin) for url in urls)

    board_update(board=board, name="Holiday", description="", is_secret=True)
    assert client.get(board.get_absolute_url()).status_code == 404
    assert client.get(pin.get_absolute_url()).status_code == 404
    for url in urls:
        if url != board.get_absolute_url():
            assert not _shows(client, url, pin), url
    client.force_login(owner)  # the owner still sees it everywhere
    assert _shows(client, board.get_absolute_url(), pin)

    board_update(board=board, name="Holiday", description="", is_secret=False)
    client.force_login(stranger)
    assert all(_shows(client, url, pin) for url in urls)


def test_a_stale_entry_still_cannot_show_a_secret_pin(client, monkeypatch):
    """Even with the invalidation lost (as if Redis had dropped the stamp), the ids go back
    through the visibility gate: the cached page just has one card fewer."""
    owner, stranger = make_user(), make_user()
    board = make_board(owner)
    pin = _pin(owner, board, title="Soon secret")
    kept = _pin(owner, make_board(owner), title="Stays public")
    client.force_login(stranger)
    _warm(client, "/", owner.get_absolute_url(), board.get_absolute_url())
    monkeypatch.setattr(page_cache, "_write_stamps", lambda keys: None)
    board_update(board=board, name=board.name, description="", is_secret=True)
    before = _hits()
    for url in ("/", owner.get_absolute_url()):
        html = client.get(url).content.decode()
        assert f"/pin/{pin.pk}/" not in html and f"/pin/{kept.pk}/" in html
    assert _hits() == before + 2  # both came from the stale entries
    assert client.get(board.get_absolute_url()).status_code == 404


def test_new_pins_saves_and_deletions_show_on_the_next_page(client):
    owner, saver = make_user(), make_user()
    board = make_board(owner)
    first = _pin(owner, board, title="First")
    _warm(client, "/", board.get_absolute_url(), owner.get_absolute_url())

    second = _pin(owner, board, title="Second")
    assert _shows(client, "/", second)
    assert _shows(client, board.get_absolute_url(), second)
    assert _shows(client, owner.get_absolute_url(), second)

    _warm(client, saver.get_absolute_url())
    copy = pin_save(user=saver, pin=first, board=make_board(saver))
    assert _shows(client, saver.get_absolute_url(), copy)
    # Saved by someone else and fresh: the original now leads the signed-out feed.
    html = client.get("/").content.decode()
    assert html.index(f"/pin/{first.pk}/") < html.index(f"/pin/{second.pk}/")

    pin_delete(pin=second)
    for url in ("/", board.get_absolute_url(), owner.get_absolute_url()):
        assert not _shows(client, url, second), url


def test_follow_and_unfollow_reorder_that_persons_feed_only(client):
    me, friend, stranger = make_user(), make_user(), make_user()
    friend_pin = _pin(friend, make_board(friend), title="Friend's")
    newest = _pin(stranger, make_board(stranger), title="Stranger's, newer")
    client.force_login(me)
    _warm(client, "/")
    html = client.get("/").content.decode()
    assert html.index(f"/pin/{newest.pk}/") < html.index(f"/pin/{friend_pin.pk}/")

    user_follow(follower=me, followee=friend)
    html = client.get("/").content.decode()
    assert html.index(f"/pin/{friend_pin.pk}/") < html.index(f"/pin/{newest.pk}/")
    user_unfollow(follower=me, followee=friend)
    html = client.get("/").content.decode()
    assert html.index(f"/pin/{newest.pk}/") < html.index(f"/pin/{friend_pin.pk}/")


def test_collaborators_gain_and_lose_a_secret_boards_pins_at_once(client):
    owner, member = make_user(), make_user()
    secret = make_board(owner, "Plans", is_secret=True)
    pin = _pin(owner, secret, title="Surprise plans")
    _pin(owner, make_board(owner), title="Public plans")
    client.force_login(member)
    _warm(client, "/", "/search/?q=plans", owner.get_absolute_url())
    assert not _shows(client, "/search/?q=plans", pin)

    board_collaborator_add(board=secret, user=member, invited_by=owner)
    for url in ("/", "/search/?q=plans", owner.get_absolute_url()):
        assert _shows(client, url, pin), url
    board_collaborator_remove(board=secret, user=member, removed_by=owner)
    for url in ("/", "/search/?q=plans", owner.get_absolute_url()):
        assert not _shows(client, url, pin), url
    assert client.get(pin.get_absolute_url()).status_code == 404


def test_moderation_hides_and_restores_at_once(client):
    owner, viewer = make_user(), make_user()
    board = make_board(owner, "Flowers")
    pin = _pin(owner, board, title="Tulip field")
    neighbour = _pin(owner, board, title="Tulip bulbs")
    client.force_login(viewer)
    urls = ["/", board.get_absolute_url(), "/search/?q=tulip", neighbour.get_absolute_url()]
    _warm(client, *urls)

    pin_moderate(pin_ids=[pin.pk], state=Pin.Moderation.HIDDEN)
    assert client.get(pin.get_absolute_url()).status_code == 404
    for url in urls:
        assert not _shows(client, url, pin), url
    pin_moderate(pin_ids=[pin.pk], state=Pin.Moderation.VISIBLE)
    for url in urls:
        assert _shows(client, url, pin), url


def test_moderation_through_the_admin_action(admin_client, client):
    owner = make_user()
    pin = _pin(owner, make_board(owner), title="Reported")
    _warm(client, "/")
    admin_client.post(
        "/admin/pins/pin/", {"action": "hide", "_selected_action": [pin.pk]}, follow=True
    )
    assert not _shows(client, "/", pin)


def test_reordering_a_board_shows_on_its_next_page(client):
    owner = make_user()
    board = make_board(owner)
    older, newer = _pin(owner, board), _pin(owner, board)
    _warm(client, board.get_absolute_url())
    html = client.get(board.get_absolute_url()).content.decode()
    assert html.index(f"/pin/{newer.pk}/") < html.index(f"/pin/{older.pk}/")
    board_pin_move(board=board, pin_id=newer.pk, before_id=None)  # to the end
    html = client.get(board.get_absolute_url()).content.decode()
    assert html.index(f"/pin/{older.pk}/") < html.index(f"/pin/{newer.pk}/")


def test_within_the_settle_window_pages_are_computed_but_not_kept(client, settings):
    """A replica may lag behind a change for a moment: what a page read then is not kept."""
    settings.PAGE_CACHE_SETTLE_SECONDS = 60
    owner = make_user()
    _pin(owner, make_board(owner))
    client.get("/")
    before = page_cache.counts()
    client.get("/")
    after = page_cache.counts()
    assert after.get(("feed", "hit"), 0) == before.get(("feed", "hit"), 0)
    assert after[("feed", "not_stored")] == before.get(("feed", "not_stored"), 0) + 1


def test_metrics_state_the_hit_rate(client, settings):
    settings.METRICS_TOKEN = "scrape-token"
    owner = make_user()
    _pin(owner, make_board(owner))
    _warm(client, "/")
    text = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token").content.decode()
    assert 'pinsite_page_cache_lookups_total{kind="feed",outcome="hit"}' in text
    ratio = next(line for line in text.splitlines() if line.startswith("pinsite_page_cache_hit"))
    assert 0 < float(ratio.split()[-1]) <= 1
    assert 'pinsite_cache_operations_total{result="get_hits"}' in text


# --- Redis killed or hung --------------------------------------------------------------------


@dataclass
class _OwnRedis(RedisServer):
    pid: int = 0  # the running server's, noted by the fixture and the tests


@pytest.fixture
def own_redis(tmp_path, settings):
    """A redis-server of this test's own (so it can be killed), as the default cache."""
    require_stack()
    from stack.processes import free_ports

    server = _OwnRedis(tmp_path / "redis", tmp_path / "redis.log", free_ports(1)[0])
    server.launch()
    process = server.wait()
    settings.CACHES = {
        "default": {
            "BACKEND": "pinsite.cache_backend.ResilientRedisCache",
            "LOCATION": f"redis://127.0.0.1:{server.port}/0",
            "KEY_PREFIX": "pinsite-test",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2, "retry_after": 0.3},
        }
    }
    server.pid = process.pid
    yield server
    current = server.process()  # the test may have started it again
    for running in {process, current} - {None}:
        assert running is not None
        if running.alive():
            os.kill(running.pid, signal.SIGCONT)
            os.kill(running.pid, signal.SIGKILL)


def test_redis_killed_pages_come_from_the_database_and_caching_resumes(client, own_redis):
    owner, stranger = make_user(), make_user()
    board = make_board(owner)
    pin = _pin(owner, board, title="Kept")
    client.force_login(stranger)
    urls = ["/", board.get_absolute_url(), owner.get_absolute_url(), pin.get_absolute_url()]
    _warm(client, *urls[:3])

    os.kill(own_redis.pid, signal.SIGKILL)
    time.sleep(0.1)
    outage = ("bypass", "outage_hit", "outage_miss")  # not Redis: the database or this process
    bypasses = sum(n for (_, o), n in page_cache.counts().items() if o in outage)
    for url in urls:
        assert client.get(url).status_code == 200, url
    assert sum(n for (_, o), n in page_cache.counts().items() if o in outage) > bypasses
    board_update(board=board, name=board.name, description="", is_secret=True)  # while down
    assert client.get(pin.get_absolute_url()).status_code == 404
    assert not _shows(client, "/", pin)

    own_redis.launch()  # empty again: nothing from before survives a kill
    own_redis.pid = own_redis.wait().pid
    time.sleep(0.35)  # the backend's retry_after
    _warm(client, "/", owner.get_absolute_url())
    assert not _shows(client, "/", pin)


def test_while_redis_is_down_pages_keep_their_ids_in_the_process_for_a_few_seconds(
    client, own_redis, settings
):
    """Redis killed: a page is computed once, then served from this process's memory; a change
    made here retires it at once, one made elsewhere (no stamp here) shows within
    PAGE_CACHE_OUTAGE_SECONDS."""
    settings.PAGE_CACHE_OUTAGE_SECONDS = 1
    owner = make_user()
    board = make_board(owner)
    first = _pin(owner, board, title="First")
    asset_for_later = make_ready_asset(owner)
    os.kill(own_redis.pid, signal.SIGKILL)
    time.sleep(0.1)

    def outcomes() -> Counter:
        total: Counter = Counter()
        for (_kind, outcome), n in page_cache.counts().items():
            total[outcome] += n
        return total

    before = outcomes()
    assert _shows(client, "/", first)
    with CaptureQueriesContext(connection) as cold:
        assert client.get("/").status_code == 200
    with CaptureQueriesContext(connection) as kept:
        assert _shows(client, "/", first)
    gained = outcomes() - before
    assert gained["outage_hit"] >= 1 and gained["outage_miss"] >= 1, gained
    assert len(kept) < len(cold) or gained["outage_hit"] >= 2

    second = _pin(owner, board, title="Made here")  # stamps in this process: retired at once
    assert _shows(client, "/", second)
    # As if another process wrote it: bulk writes send no signals, so no stamp reaches this one.
    elsewhere = Pin(owner=owner, title="Made elsewhere", media=asset_for_later)
    Pin.objects.bulk_create([elsewhere])
    BoardPin.objects.bulk_create([BoardPin(board=board, pin=elsewhere, position=10**9)])
    assert not _shows(client, "/", elsewhere)  # the kept ids, for now
    just_wrote = Client()  # a browser with a read-your-writes pin never gets the kept ids
    just_wrote.cookies[PIN_COOKIE] = format_pin(None, time.time() + 5)
    assert _shows(just_wrote, "/", elsewhere)
    time.sleep(1.1)
    assert _shows(client, "/", elsewhere)


def test_redis_hung_through_a_change_never_serves_the_old_entry(client, own_redis):
    """SIGSTOP: the server keeps its data but answers nothing. A change made meanwhile cannot
    write its stamp; the process writes it as soon as Redis answers, before using any entry."""
    owner = make_user()
    board = make_board(owner)
    old = _pin(owner, board, title="Old")
    _warm(client, "/", board.get_absolute_url())

    os.kill(own_redis.pid, signal.SIGSTOP)
    try:
        new = _pin(owner, board, title="Made while Redis hung")
        assert _shows(client, "/", new)  # from the database
    finally:
        os.kill(own_redis.pid, signal.SIGCONT)
    time.sleep(0.35)
    for url in ("/", board.get_absolute_url()):
        assert _shows(client, url, new) and _shows(client, url, old), url
    _warm(client, "/")


def test_writes_outside_the_services_retire_entries_too(client):
    """The admin's change forms and the shell save models directly: the signals stamp them."""
    owner = make_user()
    board = make_board(owner)
    pin = _pin(owner, board, title="Plain save")
    shown = _pin(owner, make_board(owner), title="Other")
    _warm(client, "/", owner.get_absolute_url(), "/search/?q=renamed")
    board.is_secret = True
    board.save()
    assert not _shows(client, owner.get_absolute_url(), pin)
    board.is_secret = False
    board.save()
    assert _shows(client, owner.get_absolute_url(), pin)
    shown.title = "Renamed in the admin"
    shown.save()
    assert "Renamed in the admin" in client.get("/search/?q=renamed").content.decode()
    client.get(owner.get_absolute_url())
    make_board(owner, "Brand new")  # a new, empty board lists nothing: no stamp
    before = _hits()
    client.get(owner.get_absolute_url())
    assert _hits() == before + 1


# --- Scoped stamps: a write retires only the pages it can change ------------------------------


def _served_from_cache(client, url: str) -> bool:
    before = _hits()
    assert client.get(url).status_code == 200, url
    return _hits() == before + 1


def test_a_new_pin_retires_its_board_profile_feed_and_search_and_nothing_else(client):
    owner, other, viewer = make_user(), make_user(), make_user()
    board_a, board_b = make_board(owner, "Alpha"), make_board(owner, "Beta")
    older = _pin(owner, board_a, title="Old lake")
    _pin(owner, board_b, title="Beta lake")
    _pin(other, make_board(other), title="Their lake")
    client.force_login(viewer)
    untouched = [board_b.get_absolute_url(), other.get_absolute_url()]
    reached = [
        "/",
        board_a.get_absolute_url(),
        owner.get_absolute_url(),
        "/search/?q=lake",
        older.get_absolute_url(),  # "more like this": the same word
    ]
    _warm(client, *untouched, *reached)

    new = _pin(owner, board_a, title="New lake")
    for url in untouched:
        assert _served_from_cache(client, url), url
    for url in reached:
        assert _shows(client, url, new), url
    client.logout()  # signed out too (their entries are shared)
    for url in reached:
        assert _shows(client, url, new), url


def test_a_save_retires_the_savers_pages_not_the_originals_board(client):
    owner, saver = make_user(), make_user()
    board = make_board(owner, "Source")
    original = _pin(owner, board, title="Saved lake")
    _pin(saver, make_board(saver), title="Saver's own")
    target = make_board(saver, "Keepers")
    _warm(client, board.get_absolute_url(), owner.get_absolute_url(), saver.get_absolute_url())

    copy = pin_save(user=saver, pin=original, board=target)
    assert _served_from_cache(client, board.get_absolute_url())
    assert _served_from_cache(client, owner.get_absolute_url())
    assert _shows(client, saver.get_absolute_url(), copy)
    assert _shows(client, target.get_absolute_url(), copy)
    assert _shows(client, "/search/?q=lake", copy)


def test_a_renamed_board_is_found_by_its_new_name_at_once(client):
    owner = make_user()
    board = make_board(owner, "Sketches")
    pin = _pin(owner, board, title="Untitled")
    _warm(client, "/search/?q=watercolours", board.get_absolute_url())
    board_update(board=board, name="Watercolours", description="", is_secret=False)
    assert _shows(client, "/search/?q=watercolours", pin)


def _make_visible_by_publishing(owner, viewer, board, pin):
    board_update(board=board, name=board.name, description="", is_secret=False)


def _make_visible_by_inviting(owner, viewer, board, pin):
    board_collaborator_add(board=board, user=viewer, invited_by=owner)


def _make_visible_by_unhiding(owner, viewer, board, pin):
    pin_moderate(pin_ids=[pin.pk], state=Pin.Moderation.VISIBLE)


def _make_visible_in_the_change_form(owner, viewer, board, pin):
    pin = Pin.objects.get(pk=pin.pk)  # as the admin's change form loads and saves it
    pin.moderation_state = Pin.Moderation.VISIBLE
    pin.save()


@pytest.mark.parametrize(
    "secret, hidden, make_visible",
    [
        (True, False, _make_visible_by_publishing),
        (True, False, _make_visible_by_inviting),
        (False, True, _make_visible_by_unhiding),
        (False, True, _make_visible_in_the_change_form),
    ],
    ids=["board made public", "collaborator added", "pin unhidden", "pin unhidden by a save"],
)
def test_a_pin_made_visible_shows_at_once_on_every_page_that_lists_it(
    client, secret, hidden, make_visible
):
    owner, viewer = make_user(), make_user()
    board = make_board(owner, "Garden", is_secret=secret)
    pin = _pin(owner, board, title="Rose garden")
    if hidden:
        pin_moderate(pin_ids=[pin.pk], state=Pin.Moderation.HIDDEN)
    neighbour = _pin(owner, make_board(owner, "Shrubs"), title="Rose bush")
    other_board = make_board(owner, "Other")
    _pin(owner, other_board, title="Stays put")
    client.force_login(viewer)
    urls = [
        "/",
        owner.get_absolute_url(),
        "/search/?q=rose",
        neighbour.get_absolute_url(),  # "more like this": the same word
    ]
    if not secret:
        urls.append(board.get_absolute_url())
    _warm(client, *urls, other_board.get_absolute_url())
    assert not any(_shows(client, url, pin) for url in urls)

    make_visible(owner, viewer, board, pin)
    for url in [*urls, board.get_absolute_url()]:
        assert _shows(client, url, pin), url
    assert client.get(pin.get_absolute_url()).status_code == 200


def test_moving_a_pin_between_boards_updates_both_boards(client):
    """The admin's placement form (and the shell) moves a pin by changing the placement's board."""
    from boards.models import BoardPin

    owner, viewer = make_user(), make_user()
    board_a, board_b = make_board(owner, "From"), make_board(owner, "To")
    moving = _pin(owner, board_a, title="Mover")
    _pin(owner, board_a, title="Stays on A")
    _pin(owner, board_b, title="Already on B")
    client.force_login(viewer)
    _warm(client, board_a.get_absolute_url(), board_b.get_absolute_url())

    placement = BoardPin.objects.get(board=board_a, pin=moving)
    placement.board = board_b
    placement.save()
    assert not _shows(client, board_a.get_absolute_url(), moving)
    assert _shows(client, board_b.get_absolute_url(), moving)

    BoardPin.objects.get(board=board_b, pin=moving).delete()  # and back, as remove and add
    from boards.services import board_pin_add

    board_pin_add(board=board_a, pin=moving, added_by=owner)
    assert _shows(client, board_a.get_absolute_url(), moving)
    assert not _shows(client, board_b.get_absolute_url(), moving)


def test_unscoped_every_write_retires_every_page(client, settings):
    """PAGE_CACHE_SCOPED off: the single stamp of before, for comparison and as a way back."""
    settings.PAGE_CACHE_SCOPED = False
    owner, other = make_user(), make_user()
    board_a, board_b = make_board(owner), make_board(owner)
    _pin(owner, board_b)
    _pin(other, make_board(other))
    _warm(client, board_b.get_absolute_url(), other.get_absolute_url())
    new = _pin(owner, board_a)
    for url in (board_b.get_absolute_url(), other.get_absolute_url()):
        assert not _served_from_cache(client, url), url
    assert _shows(client, board_a.get_absolute_url(), new)


def test_board_search_is_cached_until_a_board_is_made_renamed_or_hidden(client):
    from boards.selectors import board_search

    owner, stranger = make_user(), make_user()
    trips = make_board(owner, "Harbour walks")
    assert board_search(user=stranger, query="harbour") == [trips]
    before = _hits()
    assert board_search(user=stranger, query="harbour") == [trips]
    assert _hits() == before + 1  # the second search came from the cache

    later = make_board(owner, "Harbour lights")  # a new board is found at once
    assert board_search(user=stranger, query="harbour") == [later, trips]
    board_update(board=later, name="Evening lights", description="", is_secret=False)
    assert board_search(user=stranger, query="harbour") == [trips]  # renamed away
    board_update(board=trips, name="Harbour walks", description="", is_secret=True)
    assert board_search(user=stranger, query="harbour") == []  # secret: gone for others
    assert board_search(user=owner, query="harbour") == [trips]
    response = client.get("/search/?q=harbour")
    assert "Harbour walks" not in response.content.decode()


def test_an_entry_still_being_read_is_kept_again_in_the_second_half_of_its_life(
    settings, monkeypatch
):
    require_stack()  # reads the entry's time to live from Redis
    settings.PAGE_CACHE_SECONDS = 100
    viewer = make_user()
    now = [1_000_000.0]
    monkeypatch.setattr(page_cache.time, "time", lambda: now[0])
    slot = page_cache.entry("board", viewer=viewer, parts=("kept",), scopes=[])
    slot.store([1, 2, 3])
    kept = caches["default"].get(slot.key)
    now[0] += 40  # first half: read, not written again
    assert page_cache.entry("board", viewer=viewer, parts=("kept",), scopes=[]).value == [1, 2, 3]
    assert caches["default"].get(slot.key) == kept
    now[0] += 20  # second half: read and kept again, from now
    assert page_cache.entry("board", viewer=viewer, parts=("kept",), scopes=[]).value == [1, 2, 3]
    assert caches["default"].get(slot.key)[1] == now[0]
    redis = cast(ResilientRedisCache, caches["default"])._cache.get_client()
    assert redis.ttl(caches["default"].make_key(slot.key)) > 90  # kept with a timeout again
    caches["default"].set(slot.key, [1, 2, 3])  # an entry in the older, bare format
    assert page_cache.entry("board", viewer=viewer, parts=("kept",), scopes=[]).value is None
