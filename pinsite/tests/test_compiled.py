"""Compiled hot queries (``pinsite.db.compiled``) answer exactly what the ORM's queryset answers."""

from __future__ import annotations

import pytest

from accounts.models import User
from accounts.tests.factories import make_user
from boards.models import BoardPin
from boards.services import board_collaborator_add
from boards.tests.factories import make_board
from media.tests.factories import make_ready_asset
from pins import selectors
from pins.models import Pin
from pins.tests.factories import make_pin
from pinsite.db.compiled import Shape

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    """Pins of every visibility, and one viewer of every kind."""
    owner, collaborator, stranger = make_user(), make_user(), make_user()
    public, secret = make_board(owner), make_board(owner, is_secret=True)
    board_collaborator_add(board=secret, user=collaborator, invited_by=owner)
    shown = make_pin(owner, public, title="Shown", media_asset=make_ready_asset(owner))
    hidden_secret = make_pin(owner, secret, title="On a secret board")
    moderated = make_pin(owner, public, title="Hidden by staff")
    Pin.objects.filter(pk=moderated.pk).update(moderation_state=Pin.Moderation.HIDDEN)
    removed = make_pin(owner, public, title="Removed by staff")
    Pin.objects.filter(pk=removed.pk).update(moderation_state=Pin.Moderation.REMOVED)
    both = make_pin(owner, secret, title="Secret and public")
    BoardPin.objects.create(board=public, pin=both, position=99)
    pins = [shown, hidden_secret, moderated, removed, both]
    viewers = {"anonymous": None, "owner": owner, "collaborator": collaborator}
    viewers["stranger"] = stranger
    return pins, viewers


def _orm(user, ids, **flags):
    queryset = Pin.objects.visible_to(user).filter(pk__in=ids)
    return list(selectors._card_rows(queryset, **flags))


def _described(pins):
    return sorted(
        (
            pin.pk,
            pin.title,
            pin.on_public_board,
            pin.media.pk,
            pin.media.status,
            pin.media.width,
            pin.media.placeholder,
        )
        for pin in pins
    )


@pytest.mark.parametrize("flags", [{}, {"owners": True}, {"whole": True}])
@pytest.mark.parametrize("who", ["anonymous", "owner", "collaborator", "stranger"])
def test_cards_by_id_match_the_querysets(world, who, flags):
    pins, viewers = world
    ids = [pin.pk for pin in pins] + [10**12]  # and an id no pin has
    user = viewers[who]
    ours = selectors._cards_by_ids(user=user, ids=ids, **flags)
    theirs = _orm(user, ids, **flags)
    assert _described(ours) == _described(theirs)
    assert {pin.pk for pin in ours} == {pin.pk for pin in theirs}
    if who == "stranger":  # the gate is really applied: only the public, visible ones
        assert {pin.title for pin in ours} == {"Shown", "Secret and public"}
    if flags:
        assert {pin.owner.username for pin in ours} == {pins[0].owner.username}
    if flags.get("whole"):
        assert {pin.description for pin in ours} == {pin.description for pin in theirs}


def test_the_sql_is_compiled_once_and_does_not_depend_on_the_number_of_ids(world):
    pins, viewers = world
    built = []

    def build(values):
        built.append(values)
        viewer = User(pk=values["viewer"])
        return Pin.objects.visible_to(viewer).filter(pk__in_array=values["ids"]).values_list("pk")

    shape = Shape("test", build, values=["viewer", "ids"], lists=["ids"])
    owner = viewers["owner"]
    one = shape.rows(Pin, viewer=owner.pk, ids=[pins[0].pk])[1]
    many = shape.rows(Pin, viewer=owner.pk, ids=[pin.pk for pin in pins])[1]
    stranger = shape.rows(Pin, viewer=viewers["stranger"].pk, ids=[pin.pk for pin in pins])[1]
    assert len(built) == 1
    assert one == [(pins[0].pk,)]
    assert sorted(many) == sorted((pin.pk,) for pin in pins if pin.title != "Removed by staff")
    assert sorted(stranger) == [(pins[0].pk,), (pins[4].pk,)]


def test_a_value_missing_from_the_sql_fails_loudly(world):
    shape = Shape(
        "unused",
        lambda values: Pin.objects.filter(pk__in_array=values["ids"]).values_list("pk"),
        values=["viewer", "ids"],
        lists=["ids"],
    )
    with pytest.raises(RuntimeError, match="viewer"):
        shape.rows(Pin, viewer=1, ids=[1])


@pytest.mark.parametrize("who", ["anonymous", "owner", "collaborator", "stranger"])
def test_models_with_related_rows_and_annotations_match_the_querysets(world, who):
    from boards.models import Board
    from boards.selectors import board_get_visible, board_list_for_owner

    _pins, viewers = world
    user, owner = viewers[who], viewers["owner"]
    boards = Board.objects.visible_to(user).filter(owner=owner).order_by("-created_at", "-id")
    listed = board_list_for_owner(user=user, owner=owner)
    assert [(b.pk, b.name, b.owner.username) for b in listed] == [
        (b.pk, b.name, b.owner.username) for b in boards
    ]
    for board in Board.objects.filter(owner=owner):
        # Any case of the owner's name finds the board, as the URL's lookup does.
        visible = Board.objects.visible_to(user).filter(pk=board.pk).exists()
        try:
            found = board_get_visible(user=user, username=owner.username.upper(), slug=board.slug)
        except Board.DoesNotExist:
            found = None
        assert (found is not None) == visible, (who, board.name)
        if found is not None:
            assert (found.pk, found.owner.username) == (board.pk, owner.username)
            assert found.viewer_is_member is (who == "collaborator" and board.is_secret)
            assert found.viewer_follows is False
