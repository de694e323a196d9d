import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.tests.factories import make_user
from boards.models import POSITION_GAP, Board, BoardFollow, BoardPin
from boards.services import board_create, board_pin_add
from boards.tests.factories import make_board
from pins.tests.factories import make_pin

pytestmark = pytest.mark.django_db


def test_duplicate_board_name_is_refused_by_the_form_check_and_by_the_database():
    owner = make_user()
    board_create(owner=owner, name="Recipes")
    with pytest.raises(ValidationError):
        board_create(owner=owner, name="recipes")
    other = board_create(owner=owner, name="Travel")
    # .update() skips validation entirely: only the database constraint stands in the way.
    with pytest.raises(IntegrityError), transaction.atomic():
        Board.objects.filter(pk=other.pk).update(name="RECIPES")


def test_two_people_may_use_the_same_board_name():
    first = board_create(owner=make_user(), name="Recipes")
    second = board_create(owner=make_user(), name="Recipes")
    assert first.slug == second.slug == "recipes"


def test_empty_board_name_is_refused_by_the_database():
    board = make_board(make_user())
    with pytest.raises(IntegrityError), transaction.atomic():
        Board.objects.filter(pk=board.pk).update(name="")


def test_slugs_stay_unique_per_owner():
    owner = make_user()
    first = board_create(owner=owner, name="Café!")
    second = board_create(owner=owner, name="café?")
    assert first.slug == "café"
    assert second.slug == "café-2"


def test_new_pins_go_to_the_top_and_adding_twice_is_harmless():
    owner = make_user()
    board = make_board(owner)
    first = make_pin(owner, board)
    second = make_pin(owner, board)
    positions = dict(BoardPin.objects.filter(board=board).values_list("pin_id", "position"))
    assert positions[second.pk] == positions[first.pk] - POSITION_GAP
    again = board_pin_add(board=board, pin=first, added_by=owner)
    assert again.position == positions[first.pk]
    assert BoardPin.objects.filter(board=board).count() == 2


def test_a_pin_is_on_a_board_once():
    owner = make_user()
    board = make_board(owner)
    pin = make_pin(owner, board)
    with pytest.raises(IntegrityError), transaction.atomic():
        BoardPin.objects.create(board=board, pin=pin, position=5, added_by=owner)


def test_board_follow_is_unique():
    board = make_board(make_user())
    fan = make_user()
    BoardFollow.objects.create(follower=fan, board=board)
    with pytest.raises(IntegrityError), transaction.atomic():
        BoardFollow.objects.create(follower=fan, board=board)


def test_secret_boards_are_visible_to_owner_and_collaborators_only():
    owner, helper, stranger = make_user(), make_user(), make_user()
    secret = make_board(owner, is_secret=True)
    public = make_board(owner)
    secret.collaborators.add(helper, through_defaults={"invited_by": owner})
    assert set(Board.objects.visible_to(owner)) == {secret, public}
    assert set(Board.objects.visible_to(helper)) == {secret, public}
    assert set(Board.objects.visible_to(stranger)) == {public}
    from django.contrib.auth.models import AnonymousUser

    assert set(Board.objects.visible_to(AnonymousUser())) == {public}
