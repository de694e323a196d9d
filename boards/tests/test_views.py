"""Board pages: creating, editing, deleting, secrecy, collaborators, reordering and following."""

import itertools
import json
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Profile
from accounts.tests.factories import make_user
from boards.models import Board, BoardCollaborator, BoardFollow, BoardPin
from boards.services import board_can_add_pins, board_pin_add
from boards.tests.factories import make_board
from media.models import MediaAsset
from media.tests.factories import make_asset, make_ready_asset
from pins.models import Pin
from pins.selectors import pin_page_for_board
from pins.services import pin_publish, pin_save
from pins.tests.factories import make_pin
from pinsite.tests.html import input_value, page_text

pytestmark = pytest.mark.django_db


def _url(board: Board, action: str = "") -> str:
    return board.get_absolute_url() + (f"{action}/" if action else "")


def _order(board: Board) -> list[int]:
    return [pin.pk for pin in pin_page_for_board(user=board.owner, board=board, limit=500).pins]


def _positions(board: Board) -> dict[int, int]:
    return dict(BoardPin.objects.filter(board=board).values_list("pin_id", "position"))


# --- Creating and editing --------------------------------------------------------------------


def test_create_a_board(client):
    owner = make_user("maker")
    client.force_login(owner)
    assert "New board" in page_text(client.get("/boards/new/"))
    response = client.post(
        "/boards/new/", {"name": " Weekend Trips ", "description": "Places", "is_secret": "on"}
    )
    board = Board.objects.get()
    assert (board.owner, board.name, board.slug, board.description, board.is_secret) == (
        owner,
        "Weekend Trips",
        "weekend-trips",
        "Places",
        True,
    )
    assert response.status_code == 302
    assert response.url == "/boards/maker/weekend-trips/"
    assert "Board “Weekend Trips” created." in page_text(client.get(response.url))


def test_create_needs_a_login(client):
    response = client.post("/boards/new/", {"name": "Anything"})
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/?next=/boards/new/")
    assert not Board.objects.exists()


def test_create_refuses_a_name_taken_in_another_case_and_keeps_the_input(client):
    owner = make_user()
    make_board(owner, "Recipes")
    client.force_login(owner)
    response = client.post("/boards/new/", {"name": "RECIPES", "description": "Soups only"})
    assert response.status_code == 200
    page = page_text(response)
    assert "You already have a board called “RECIPES”." in page
    assert input_value(response, "name") == "RECIPES"
    assert re.search(r"<textarea[^>]*>\s*Soups only</textarea>", page)
    assert Board.objects.count() == 1
    # Someone else may use the same name.
    client.force_login(make_user())
    assert client.post("/boards/new/", {"name": "Recipes"}).status_code == 302


def test_edit_renames_with_a_new_slug_and_toggles_secrecy(client):
    owner = make_user("maker")
    board = make_board(owner, "Travel")
    pin = make_pin(owner, board)
    client.force_login(owner)
    assert input_value(client.get(_url(board, "edit")), "name") == "Travel"

    response = client.post(
        _url(board, "edit"), {"name": "Far Away", "description": "Trips", "is_secret": "on"}
    )
    assert response.status_code == 302
    assert response.url == "/boards/maker/far-away/"
    board.refresh_from_db()
    assert (board.name, board.slug, board.description, board.is_secret) == (
        "Far Away",
        "far-away",
        "Trips",
        True,
    )
    assert client.get("/boards/maker/travel/").status_code == 404
    client.logout()
    assert client.get("/boards/maker/far-away/").status_code == 404  # secret now
    assert client.get(pin.get_absolute_url()).status_code == 404

    client.force_login(owner)
    client.post(_url(board, "edit"), {"name": "Far Away", "description": "Trips"})  # unticked
    board.refresh_from_db()
    assert (board.slug, board.is_secret) == ("far-away", False)
    client.logout()
    assert client.get("/boards/maker/far-away/").status_code == 200
    assert client.get(pin.get_absolute_url()).status_code == 200


def test_edit_refuses_a_name_taken_in_another_case_and_changes_nothing(client):
    owner = make_user()
    make_board(owner, "Recipes")
    board = make_board(owner, "Travel")
    client.force_login(owner)
    response = client.post(_url(board, "edit"), {"name": "recipes", "description": "x"})
    assert response.status_code == 200
    assert "You already have a board called “recipes”." in page_text(response)
    assert input_value(response, "name") == "recipes"
    board.refresh_from_db()
    assert (board.name, board.slug, board.description) == ("Travel", "travel", "")


def test_only_the_owner_can_edit_or_delete(client):
    owner, helper, stranger = make_user(), make_user(), make_user()
    board = make_board(owner, "Shared")
    board.collaborators.add(helper, through_defaults={"invited_by": owner})
    make_pin(owner, board)
    for person in (helper, stranger):
        client.force_login(person)
        assert client.get(_url(board, "edit")).status_code == 404
        assert client.post(_url(board, "edit"), {"name": "Mine now"}).status_code == 404
        assert client.post(_url(board, "delete")).status_code == 404
        detail = page_text(client.get(_url(board)))
        assert "Edit board" not in detail
    board.refresh_from_db()
    assert board.name == "Shared"
    assert Pin.objects.count() == 1


# --- Deleting --------------------------------------------------------------------------------


def test_delete_keeps_pins_on_other_boards_and_media_until_its_last_reference(
    client, django_capture_on_commit_callbacks
):
    owner, fan = make_user("maker"), make_user()
    board, other = make_board(owner, "Doomed"), make_board(owner, "Kept")
    only_here = make_pin(owner, board)
    also_elsewhere = make_pin(owner, board)
    board_pin_add(board=other, pin=also_elsewhere, added_by=owner)
    saved_by_fan = make_pin(owner, board)
    fans_copy = pin_save(user=fan, pin=saved_by_fan, board=make_board(fan))
    avatar_too = make_pin(owner, board)
    Profile.objects.filter(user=owner).update(avatar=avatar_too.media)
    twin_asset = make_asset(owner)
    twins = [make_pin(owner, board, media_asset=twin_asset) for _ in range(2)]

    client.force_login(owner)
    assert client.get(_url(board, "delete")).status_code == 405
    assert Board.objects.filter(pk=board.pk).exists()
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(_url(board, "delete"))
    assert response.status_code == 302
    assert response.url == "/people/maker/"
    assert not Board.objects.filter(pk=board.pk).exists()

    remaining = set(Pin.objects.values_list("pk", flat=True))
    assert remaining == {also_elsewhere.pk, fans_copy.pk}
    assert _order(other) == [also_elsewhere.pk]
    released = set(
        MediaAsset.objects.filter(released_at__isnull=False).values_list("pk", flat=True)
    )
    # Shared media stays: with the other board's pin, the fan's save and the avatar.
    assert released == {only_here.media_id, twin_asset.pk}
    assert len(callbacks) == 2  # one purge task per released asset, after commit
    fans_copy.refresh_from_db()
    assert fans_copy.parent is None
    assert twins[0].media_id == twin_asset.pk
    assert "Board “Doomed” deleted." in page_text(client.get(response.url))


# --- Secret boards ---------------------------------------------------------------------------


def _secret_board_requests(board: Board, pin: Pin):
    """Every page and action of a board, as (method, url, data)."""
    return [
        ("get", _url(board), None),
        ("get", _url(board, "edit"), None),
        ("post", _url(board, "edit"), {"name": "Taken over"}),
        ("post", _url(board, "delete"), {}),
        ("post", _url(board, "follow"), {}),
        ("post", _url(board, "members"), {"username": "intruder"}),
        ("post", _url(board, "reorder"), {"pin": pin.pk, "before": ""}),
    ]


def _send(client, method, url, data):
    return client.get(url) if method == "get" else client.post(url, data)


def _nothing_changed(board: Board, pin: Pin):
    board.refresh_from_db()
    assert board.name == "Plans"
    assert Pin.objects.filter(pk=pin.pk).exists()
    assert not BoardFollow.objects.exists()
    assert list(board.collaborators.values_list("username", flat=True)) == ["helper"]


def test_a_secret_board_is_404_for_a_stranger_everywhere(client):
    owner, helper = make_user("owner"), make_user("helper")
    make_user("intruder")
    board = make_board(owner, "Plans", is_secret=True)
    board.collaborators.add(helper, through_defaults={"invited_by": owner})
    pin = make_pin(owner, board)
    missing = Board(owner=owner, slug="no-such-board")
    client.force_login(make_user("stranger"))
    for method, url, data in _secret_board_requests(board, pin):
        assert _send(client, method, url, data).status_code == 404, (method, url)
    for method, url, data in _secret_board_requests(missing, pin):
        assert _send(client, method, url, data).status_code == 404, (method, url)
    _nothing_changed(board, pin)


def test_a_secret_board_gives_anonymous_visitors_nothing_a_missing_board_would_not(client):
    owner, helper = make_user("owner"), make_user("helper")
    board = make_board(owner, "Plans", is_secret=True)
    board.collaborators.add(helper, through_defaults={"invited_by": owner})
    pin = make_pin(owner, board)
    missing = Board(owner=owner, slug="no-such-board")
    assert client.get(_url(board)).status_code == 404
    requests = zip(
        _secret_board_requests(board, pin), _secret_board_requests(missing, pin), strict=True
    )
    for (method, url, data), (_, missing_url, _) in requests:
        response = _send(client, method, url, data)
        expected = _send(client, method, missing_url, data)
        assert response.status_code in (302, 404), (method, url)
        assert response.status_code == expected.status_code, (method, url)
        if response.status_code == 302:
            # Actions ask for a log-in first, exactly as they would for a board that is not there.
            assert response.url == expected.url.replace(missing_url, url)
            assert response.url.startswith("/accounts/login/")
    _nothing_changed(board, pin)


def test_a_secret_board_is_shown_to_its_owner_and_collaborators(client):
    owner, helper = make_user("owner"), make_user("helper")
    board = make_board(owner, "Plans", is_secret=True)
    board.collaborators.add(helper, through_defaults={"invited_by": owner})
    pin = make_pin(owner, board, title="Blueprint")
    for person in (owner, helper):
        client.force_login(person)
        response = client.get(_url(board))
        assert response.status_code == 200
        page = page_text(response)
        assert "Plans" in page and 'class="badge">Secret' in page
        assert f'href="/pin/{pin.pk}/"' in page
        assert client.get(pin.get_absolute_url()).status_code == 200


# --- Collaborators ---------------------------------------------------------------------------


def test_owner_invites_a_collaborator_who_can_then_add_pins_and_see_the_board(client):
    owner, helper = make_user("owner"), make_user("helper")
    board = make_board(owner, "Plans", is_secret=True)
    assert not board_can_add_pins(board=board, user=helper)
    client.force_login(owner)
    response = client.post(_url(board, "members"), {"username": " HELPER "}, follow=True)
    assert "helper can now add pins to this board." in page_text(response)
    member = BoardCollaborator.objects.get(board=board)
    assert (member.user, member.invited_by) == (helper, owner)
    assert board_can_add_pins(board=board, user=helper)

    client.force_login(helper)
    page = page_text(client.get(_url(board)))
    assert f'href="/pin/new/?board={board.pk}"' in page  # the "Add pins" button
    assert 'data-reorder-url="/boards/owner/plans/reorder/"' not in page  # no pins yet
    pin = pin_publish(owner=helper, media_asset=make_asset(helper), board=board, title="Mine")
    assert BoardPin.objects.get(board=board, pin=pin).added_by == helper
    client.force_login(owner)
    assert f'href="/pin/{pin.pk}/"' in page_text(client.get(_url(board)))


def test_inviting_names_nobody_the_owner_or_nothing(client):
    owner = make_user("owner")
    board = make_board(owner, "Plans")
    client.force_login(owner)
    for data, message in [
        ({"username": "ghost"}, "Nobody is called “ghost”."),
        ({"username": "OWNER"}, "You already own this board."),
        ({"username": ""}, "Give the username of the person to invite."),
    ]:
        response = client.post(_url(board, "members"), data, follow=True)
        assert message in page_text(response)
    assert not BoardCollaborator.objects.exists()


def test_a_collaborator_cannot_invite_or_remove_others_but_may_leave(client):
    owner, helper, other_helper = make_user("owner"), make_user("helper"), make_user("other")
    make_user("friend")
    board = make_board(owner, "Plans", is_secret=True)
    for person in (helper, other_helper):
        board.collaborators.add(person, through_defaults={"invited_by": owner})
    client.force_login(helper)

    response = client.post(_url(board, "members"), {"username": "friend"}, follow=True)
    assert "Only the board's owner can invite people." in page_text(response)
    response = client.post(
        _url(board, "members"), {"username": "other", "action": "remove"}, follow=True
    )
    assert "Only the board's owner can remove people." in page_text(response)
    assert set(board.collaborators.values_list("username", flat=True)) == {"helper", "other"}

    response = client.post(_url(board, "members"), {"username": "helper", "action": "remove"})
    assert response.status_code == 302 and response.url == "/"
    assert set(board.collaborators.values_list("username", flat=True)) == {"other"}
    assert not board_can_add_pins(board=board, user=helper)
    assert client.get(_url(board)).status_code == 404  # secret, and no longer theirs

    client.force_login(owner)
    response = client.post(_url(board, "members"), {"username": "other", "action": "remove"})
    assert response.url == _url(board)
    assert not BoardCollaborator.objects.exists()


# --- Reordering ------------------------------------------------------------------------------


def _board_with_pins(count: int = 4, *, owner=None):
    owner = owner or make_user("owner")
    board = make_board(owner, "Ordered")
    pins = [make_pin(owner, board) for _ in range(count)]
    # New pins go to the top, so the board shows the newest first.
    assert _order(board) == [pin.pk for pin in reversed(pins)]
    return board, list(reversed(pins))


def _move(client, board, pin, before):
    return client.post(
        _url(board, "reorder"),
        json.dumps({"pin": pin, "before": before}),
        content_type="application/json",
    )


def test_reorder_moves_a_pin_before_another_or_to_the_end(client):
    board, (a, b, c, d) = _board_with_pins()
    client.force_login(board.owner)

    response = _move(client, board, d.pk, b.pk)
    assert response.status_code == 200
    assert response.json() == {"pin": d.pk, "position": _positions(board)[d.pk]}
    assert _order(board) == [a.pk, d.pk, b.pk, c.pk]

    # The page's script sends ids as strings and "" for "to the end".
    assert _move(client, board, str(a.pk), "").status_code == 200
    assert _order(board) == [d.pk, b.pk, c.pk, a.pk]

    assert _move(client, board, c.pk, d.pk).status_code == 200  # to the top
    assert _order(board) == [c.pk, d.pk, b.pk, a.pk]

    assert _move(client, board, b.pk, b.pk).status_code == 200  # before itself: stays
    assert _order(board) == [c.pk, d.pk, b.pk, a.pk]


def test_reorder_accepts_a_plain_form_post(client):
    board, (a, b, _c, _d) = _board_with_pins()
    client.force_login(board.owner)
    response = client.post(_url(board, "reorder"), {"pin": b.pk, "before": a.pk})
    assert response.status_code == 302 and response.url == _url(board)
    assert _order(board)[:2] == [b.pk, a.pk]


def test_reorder_renumbers_the_board_when_no_gap_is_left(client):
    board, (a, b, c, d) = _board_with_pins()
    for position, pin in enumerate((a, b, c, d)):
        BoardPin.objects.filter(board=board, pin=pin).update(position=position)
    client.force_login(board.owner)
    assert _move(client, board, d.pk, b.pk).status_code == 200
    assert _order(board) == [a.pk, d.pk, b.pk, c.pk]
    positions = _positions(board)
    ordered = [positions[pin] for pin in _order(board)]
    assert ordered == sorted(set(ordered))
    assert min(high - low for low, high in itertools.pairwise(ordered)) > 1
    # The next move between neighbours has room again and writes only the moved row.
    assert _move(client, board, c.pk, d.pk).status_code == 200
    assert _order(board) == [a.pk, c.pk, d.pk, b.pk]


@pytest.mark.parametrize(
    "body",
    [
        {"pin": "abc", "before": ""},
        {"pin": "", "before": ""},
        {"before": ""},
        {"pin": "FIRST", "before": "x"},
        {"pin": "OTHER", "before": ""},
        {"pin": 987654321, "before": ""},
        {"pin": "FIRST", "before": "OTHER"},
        {"pin": "FIRST", "before": 987654321},
        "not json at all",
        "[1, 2]",
        "",
    ],
)
def test_reorder_refuses_bad_input_with_400_and_changes_nothing(client, body):
    board, pins = _board_with_pins()
    other_pin = make_pin(board.owner)  # on another board of the same owner
    before = _positions(board)
    if isinstance(body, dict):
        names = {"FIRST": pins[0].pk, "OTHER": other_pin.pk}
        body = json.dumps({key: names.get(value, value) for key, value in body.items()})
    client.force_login(board.owner)
    response = client.post(_url(board, "reorder"), body, content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]
    assert _positions(board) == before


def test_reorder_is_for_people_who_can_add_pins(client):
    board, (a, b, _c, _d) = _board_with_pins()
    before = _positions(board)
    assert _move(client, board, b.pk, a.pk).status_code == 302  # anonymous: log in first
    client.force_login(make_user())
    assert _move(client, board, b.pk, a.pk).status_code == 404
    assert _positions(board) == before

    helper = make_user()
    board.collaborators.add(helper, through_defaults={"invited_by": board.owner})
    client.force_login(helper)
    assert _move(client, board, b.pk, a.pk).status_code == 200
    assert _order(board)[:2] == [b.pk, a.pk]


# --- Following boards ------------------------------------------------------------------------


def test_follow_and_unfollow_a_board(client):
    owner, fan = make_user(), make_user()
    board = make_board(owner, "Gardens")
    client.force_login(fan)
    assert "Follow board</button>" in page_text(client.get(_url(board)))
    response = client.post(_url(board, "follow"), follow=True)
    assert response.redirect_chain == [(_url(board), 302)]
    page = page_text(response)
    assert "You follow “Gardens”" in page and "Unfollow board</button>" in page
    client.post(_url(board, "follow"))
    assert BoardFollow.objects.filter(follower=fan, board=board).count() == 1

    response = client.post(_url(board, "follow"), {"action": "unfollow"}, follow=True)
    assert "You no longer follow “Gardens”." in page_text(response)
    assert not BoardFollow.objects.exists()


def test_a_collaborator_may_follow_a_secret_board(client):
    owner, helper = make_user(), make_user()
    board = make_board(owner, "Plans", is_secret=True)
    board.collaborators.add(helper, through_defaults={"invited_by": owner})
    client.force_login(helper)
    assert client.post(_url(board, "follow")).status_code == 302
    assert BoardFollow.objects.filter(follower=helper, board=board).exists()


# --- Methods and CSRF ------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["delete", "follow", "members", "reorder"])
def test_actions_refuse_get(client, action):
    board, pins = _board_with_pins(2)
    board.collaborators.add(make_user(), through_defaults={"invited_by": board.owner})
    client.force_login(board.owner)
    before = _positions(board)
    response = client.get(_url(board, action), {"pin": pins[1].pk, "username": "x"})
    assert response.status_code == 405
    assert Board.objects.filter(pk=board.pk).exists()
    assert _positions(board) == before
    assert not BoardFollow.objects.exists()
    assert board.collaborators.count() == 1


def test_actions_need_the_csrf_token():
    board, (a, b) = _board_with_pins(2)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(board.owner)
    before = _positions(board)

    assert browser.post(_url(board, "delete")).status_code == 403
    response = browser.post(
        _url(board, "reorder"),
        json.dumps({"pin": b.pk, "before": a.pk}),
        content_type="application/json",
    )
    assert response.status_code == 403
    assert browser.post("/boards/new/", {"name": "Forged"}).status_code == 403
    assert list(Board.objects.values_list("name", flat=True)) == ["Ordered"]
    assert _positions(board) == before

    # The same requests with the page's token go through.
    browser.get(_url(board))
    token = browser.cookies["csrftoken"].value
    response = browser.post(
        _url(board, "reorder"),
        json.dumps({"pin": b.pk, "before": a.pk}),
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 200
    assert browser.post(_url(board, "delete"), {"csrfmiddlewaretoken": token}).status_code == 302
    assert not Board.objects.filter(pk=board.pk).exists()


# --- Query budget ----------------------------------------------------------------------------


def _ready_pins(owner, board, count):
    for index in range(count):
        asset = make_ready_asset(owner, dominant_color="#aabbcc")
        make_pin(owner, board, media_asset=asset, title=f"Pin {index}")


@pytest.mark.parametrize("viewer", ["anonymous", "owner", "collaborator", "follower"])
def test_board_page_queries_do_not_grow_with_its_pins(client, viewer):
    owner = make_user()
    board = make_board(owner, "Busy", is_secret=viewer == "collaborator")
    helpers = [make_user() for _ in range(2)]
    for helper in helpers:
        board.collaborators.add(helper, through_defaults={"invited_by": owner})
    if viewer != "anonymous":
        person = {"owner": owner, "collaborator": helpers[0]}.get(viewer) or make_user()
        if viewer == "follower":
            BoardFollow.objects.create(follower=person, board=board)
        client.force_login(person)
    _ready_pins(owner, board, 3)
    with CaptureQueriesContext(connection) as few:
        assert client.get(_url(board)).status_code == 200
    _ready_pins(owner, board, 27)
    with CaptureQueriesContext(connection) as many:
        response = client.get(_url(board))
    assert response.status_code == 200
    assert page_text(response).count('class="card"') == 30
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]
