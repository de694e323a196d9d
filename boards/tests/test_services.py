"""boards.services and boards.selectors: names, slugs, deletion, members, order and follows."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError

from accounts.models import Profile
from accounts.tests.factories import make_user
from boards import selectors, services
from boards.models import POSITION_GAP, Board, BoardCollaborator, BoardFollow, BoardPin
from boards.tests.factories import make_board
from media.models import MediaAsset
from pins.models import Pin
from pins.selectors import pin_page_for_board
from pins.services import pin_save
from pins.tests.factories import make_pin
from pinsite import page_cache

pytestmark = pytest.mark.django_db


def _order(board: Board) -> list[int]:
    return [pin.pk for pin in pin_page_for_board(user=board.owner, board=board, limit=500).pins]


# --- Creating and renaming -------------------------------------------------------------------


def test_board_create_strips_and_slugs_the_name():
    board = services.board_create(owner=make_user(), name="  Summer Trips ", description=" Sea ")
    assert (board.name, board.slug, board.description, board.is_secret) == (
        "Summer Trips",
        "summer-trips",
        "Sea",
        False,
    )


def test_board_create_refuses_a_duplicate_name_on_the_name_field():
    owner = make_user()
    services.board_create(owner=owner, name="Recipes")
    with pytest.raises(ValidationError) as caught:
        services.board_create(owner=owner, name=" RECIPES ")
    assert caught.value.message_dict == {"name": ["You already have a board called “RECIPES”."]}
    assert Board.objects.count() == 1


def test_a_name_taken_by_a_request_running_at_the_same_time_is_refused_not_a_500(monkeypatch):
    # wapiti hit this race (both requests passed the checks, the second insert broke the unique
    # constraint: a 500). The window is forced open here: the checks before the insert do not
    # see the board the other request made.
    owner = make_user()
    services.board_create(owner=owner, name="Recipes")
    checks_skipped: list[dict] = []

    def the_other_request_has_not_committed_yet(**kwargs):
        if not checks_skipped:
            checks_skipped.append(kwargs)
            return
        real_name_free(**kwargs)

    real_name_free = services._name_free
    monkeypatch.setattr(services, "_name_free", the_other_request_has_not_committed_yet)
    monkeypatch.setattr(Board, "full_clean", lambda self, **kwargs: None)
    with pytest.raises(ValidationError) as caught:
        services.board_create(owner=owner, name="recipes")
    assert caught.value.message_dict == {"name": ["You already have a board called “recipes”."]}
    assert checks_skipped
    assert list(Board.objects.filter(owner=owner).values_list("name", flat=True)) == ["Recipes"]


def test_a_name_without_letters_still_gets_a_slug():
    owner = make_user()
    assert services.board_create(owner=owner, name="!!!").slug == "board"
    assert services.board_create(owner=owner, name="???").slug == "board-2"


def test_board_update_changes_the_slug_only_when_the_name_slugs_differently():
    owner = make_user()
    board = make_board(owner, "Travel")
    services.board_update(board=board, name="TRAVEL!", description="", is_secret=False)
    board.refresh_from_db()
    assert (board.name, board.slug) == ("TRAVEL!", "travel")
    services.board_update(board=board, name="Far Away", description="d", is_secret=True)
    board.refresh_from_db()
    assert (board.name, board.slug, board.description, board.is_secret) == (
        "Far Away",
        "far-away",
        "d",
        True,
    )


def test_board_update_avoids_another_boards_slug_and_refuses_its_name():
    owner = make_user()
    make_board(owner, "Café")
    board = make_board(owner, "Coffee")
    services.board_update(board=board, name="Café!", description="", is_secret=False)
    assert board.slug == "café-2"
    with pytest.raises(ValidationError):
        # Differs in ASCII case only: the test database has the C locale, where PostgreSQL's
        # lower() and upper() leave "É" alone.
        services.board_update(board=board, name="café", description="", is_secret=False)
    board.refresh_from_db()
    assert board.name == "Café!"


# --- Deleting --------------------------------------------------------------------------------


def test_board_delete_removes_only_pins_on_no_other_board():
    owner = make_user()
    board, other = make_board(owner), make_board(owner)
    only_here = make_pin(owner, board)
    on_both = make_pin(owner, board)
    services.board_pin_add(board=other, pin=on_both, added_by=owner)
    elsewhere = make_pin(owner, other)
    services.board_delete(board=board)
    assert not Board.objects.filter(pk=board.pk).exists()
    assert set(Pin.objects.values_list("pk", flat=True)) == {on_both.pk, elsewhere.pk}
    assert not Pin.objects.filter(pk=only_here.pk).exists()
    assert set(_order(other)) == {on_both.pk, elsewhere.pk}


def test_board_delete_releases_media_only_with_its_last_reference(
    django_capture_on_commit_callbacks,
):
    owner, fan = make_user(), make_user()
    board = make_board(owner)
    lone = make_pin(owner, board)
    saved = make_pin(owner, board)
    pin_save(user=fan, pin=saved, board=make_board(fan))
    as_avatar = make_pin(owner, board)
    Profile.objects.filter(user=fan).update(avatar=as_avatar.media)
    with django_capture_on_commit_callbacks() as callbacks:
        services.board_delete(board=board)
    released = set(
        MediaAsset.objects.filter(released_at__isnull=False).values_list("pk", flat=True)
    )
    assert released == {lone.media_id}
    purges = [c for c in callbacks if not isinstance(c, page_cache.StampOnCommit)]
    assert len(purges) == 1
    # Media still in use is neither released nor deleted.
    assert MediaAsset.objects.filter(pk__in=[saved.media_id, as_avatar.media_id]).count() == 2


def test_board_delete_of_an_empty_board():
    board = make_board(make_user())
    services.board_delete(board=board)
    assert not Board.objects.exists()


# --- Collaborators ---------------------------------------------------------------------------


def test_only_the_owner_invites_and_nobody_invites_the_owner():
    owner, helper, other = make_user(), make_user(), make_user()
    board = make_board(owner)
    member = services.board_collaborator_add(board=board, user=helper, invited_by=owner)
    assert (member.user, member.invited_by) == (helper, owner)
    again = services.board_collaborator_add(board=board, user=helper, invited_by=owner)
    assert again.pk == member.pk
    with pytest.raises(ValidationError) as caught:
        services.board_collaborator_add(board=board, user=other, invited_by=helper)
    assert caught.value.code == "not_owner"
    with pytest.raises(ValidationError) as caught:
        services.board_collaborator_add(board=board, user=owner, invited_by=owner)
    assert caught.value.code == "owner"
    assert list(board.collaborators.all()) == [helper]


def test_only_the_owner_removes_others_and_anyone_may_leave():
    owner, helper, other = make_user(), make_user(), make_user()
    board = make_board(owner)
    for person in (helper, other):
        services.board_collaborator_add(board=board, user=person, invited_by=owner)
    with pytest.raises(ValidationError) as caught:
        services.board_collaborator_remove(board=board, user=other, removed_by=helper)
    assert caught.value.code == "not_owner"
    services.board_collaborator_remove(board=board, user=helper, removed_by=helper)
    services.board_collaborator_remove(board=board, user=other, removed_by=owner)
    assert not BoardCollaborator.objects.exists()


def test_who_can_add_pins():
    owner, helper, stranger = make_user(), make_user(), make_user()
    board = make_board(owner, is_secret=True)
    services.board_collaborator_add(board=board, user=helper, invited_by=owner)
    assert services.board_can_add_pins(board=board, user=owner)
    assert services.board_can_add_pins(board=board, user=helper)
    assert not services.board_can_add_pins(board=board, user=stranger)
    assert not services.board_can_add_pins(board=board, user=AnonymousUser())
    assert list(selectors.board_pinnable(user=helper)) == [board]
    assert list(selectors.board_pinnable(user=stranger)) == []


# --- Order -----------------------------------------------------------------------------------


def _board(count: int):
    owner = make_user()
    board = make_board(owner)
    pins = [make_pin(owner, board) for _ in range(count)]
    return board, [pin.pk for pin in reversed(pins)]  # newest first, as the board shows them


def test_moving_between_neighbours_with_room_writes_the_midpoint():
    board, (a, b, c) = _board(3)
    positions = dict(BoardPin.objects.filter(board=board).values_list("pin_id", "position"))
    moved = services.board_pin_move(board=board, pin_id=c, before_id=b)
    assert moved.position == (positions[a] + positions[b]) // 2
    assert _order(board) == [a, c, b]
    # Only the moved row changed.
    after = dict(BoardPin.objects.filter(board=board).values_list("pin_id", "position"))
    assert {pin: after[pin] for pin in (a, b)} == {pin: positions[pin] for pin in (a, b)}


def test_moving_to_the_top_and_to_the_end():
    board, (a, b, c) = _board(3)
    services.board_pin_move(board=board, pin_id=c, before_id=a)
    assert _order(board) == [c, a, b]
    services.board_pin_move(board=board, pin_id=c, before_id=None)
    assert _order(board) == [a, b, c]


def test_moving_the_only_pin_is_harmless():
    board, (a,) = _board(1)
    assert services.board_pin_move(board=board, pin_id=a, before_id=None).position == 0


def test_no_gap_left_renumbers_the_board_in_its_new_order():
    board, (a, b, c, d) = _board(4)
    for position, pin in enumerate((a, b, c, d)):
        BoardPin.objects.filter(board=board, pin_id=pin).update(position=position)
    moved = services.board_pin_move(board=board, pin_id=d, before_id=b)
    assert _order(board) == [a, d, b, c]
    positions = dict(BoardPin.objects.filter(board=board).values_list("pin_id", "position"))
    assert [positions[pin] for pin in (a, d, b, c)] == [
        0,
        POSITION_GAP,
        2 * POSITION_GAP,
        3 * POSITION_GAP,
    ]
    assert moved.position == POSITION_GAP


def test_moving_a_pin_or_before_a_pin_that_is_not_on_the_board_changes_nothing():
    board, (a, _b, _c) = _board(3)
    stray = make_pin(board.owner).pk
    before = dict(BoardPin.objects.filter(board=board).values_list("pin_id", "position"))
    with pytest.raises(BoardPin.DoesNotExist):
        services.board_pin_move(board=board, pin_id=stray, before_id=a)
    with pytest.raises(BoardPin.DoesNotExist):
        services.board_pin_move(board=board, pin_id=a, before_id=stray)
    after = dict(BoardPin.objects.filter(board=board).values_list("pin_id", "position"))
    assert after == before


# --- Follows and reads -----------------------------------------------------------------------


def test_follow_is_idempotent_and_unfollow_harmless_twice():
    board, fan = make_board(make_user()), make_user()
    first = services.board_follow(follower=fan, board=board)
    assert services.board_follow(follower=fan, board=board).pk == first.pk
    services.board_unfollow(follower=fan, board=board)
    services.board_unfollow(follower=fan, board=board)
    assert not BoardFollow.objects.exists()


def test_board_list_for_owner_shows_others_only_the_public_boards():
    owner, helper, stranger = make_user(), make_user(), make_user()
    public = make_board(owner)
    secret = make_board(owner, is_secret=True)
    services.board_collaborator_add(board=secret, user=helper, invited_by=owner)
    assert selectors.board_list_for_owner(user=owner, owner=owner) == [secret, public]
    assert selectors.board_list_for_owner(user=helper, owner=owner) == [secret, public]
    assert selectors.board_list_for_owner(user=stranger, owner=owner) == [public]
    assert selectors.board_list_for_owner(user=AnonymousUser(), owner=owner) == [public]


def test_board_get_visible_finds_the_owner_in_any_case_and_hides_secret_boards():
    owner = make_user("owner")
    secret = make_board(owner, "Plans", is_secret=True)
    assert selectors.board_get_visible(user=owner, username="OWNER", slug="plans") == secret
    with pytest.raises(Board.DoesNotExist):
        selectors.board_get_visible(user=make_user(), username="owner", slug="plans")
