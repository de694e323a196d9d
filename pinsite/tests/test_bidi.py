"""Text-direction controls are refused with a message in every name, title and description, on
every form and service that stores one; nothing is stored."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from accounts import services as account_services
from accounts.models import Profile, User
from accounts.tests.factories import make_user
from boards import services as board_services
from boards.models import Board
from boards.tests.factories import make_board
from media.tests.factories import make_ready_asset
from pins.models import Pin
from pins.services import pin_create
from pins.tests.factories import make_pin
from pinsite.bidi import BIDI_CONTROLS, MESSAGE, bidi_controls_check
from pinsite.tests.html import page_text

pytestmark = pytest.mark.django_db

RLO = "\u202e"
ALL = sorted(BIDI_CONTROLS)


def test_every_listed_control_is_refused_and_right_to_left_text_is_not():
    assert len(ALL) == 12
    for char in ALL:
        with pytest.raises(ValidationError) as refused:
            bidi_controls_check(title=f"photo{char}gpj.exe")
        assert refused.value.message_dict == {"title": [MESSAGE]}
    bidi_controls_check(title="شاي بالنعناع", description="עברית and English")


@pytest.mark.parametrize("char", ALL)
def test_publishing_with_a_control_in_any_text_field_stores_nothing(client, char):
    person = make_user()
    board = make_board(person)
    asset = make_ready_asset(person)
    client.force_login(person)
    for field in ("title", "description", "alt_text"):
        data = {"asset": asset.pk, "board": board.pk, "title": "fine", field: f"a{char}b"}
        response = client.post("/pin/publish/", data, HTTP_ACCEPT="application/json")
        assert response.status_code == 400
        assert response.json()["errors"] == {field: [MESSAGE]}
    assert not Pin.objects.filter(media=asset).exists()


def test_board_forms_refuse_a_control_in_the_name_or_description(client):
    person = make_user()
    client.force_login(person)
    for data, field in (
        ({"name": f"Trips{RLO}"}, "name"),
        ({"name": "Trips", "description": f"x{RLO}y"}, "description"),
    ):
        response = client.post("/boards/new/", data)
        assert response.status_code == 200
        assert response.context["form"].errors[field] == [MESSAGE]
    assert not Board.objects.filter(owner=person).exists()
    board = make_board(person, "Kept")
    response = client.post(f"/boards/{person.username}/{board.slug}/edit/", {"name": f"Kept{RLO}"})
    assert MESSAGE in page_text(response)
    board.refresh_from_db()
    assert board.name == "Kept"


def test_saving_to_a_new_board_refuses_a_control_in_its_name(client):
    owner, person = make_user(), make_user()
    pin = make_pin(owner, make_board(owner), media_asset=make_ready_asset(owner))
    client.force_login(person)
    response = client.post(f"/pin/{pin.pk}/save/", {"new_board_name": f"Mine{RLO}"})
    assert response.status_code == 400
    assert MESSAGE in page_text(response)
    assert not Board.objects.filter(owner=person).exists()


def test_the_profile_form_refuses_a_control_in_the_display_name_or_bio(client):
    person = make_user()
    client.force_login(person)
    for data in ({"display_name": f"Al{RLO}ice"}, {"display_name": "Alice", "bio": f"hi{RLO}"}):
        response = client.post("/accounts/profile/", data)
        assert response.status_code == 200
        assert MESSAGE in page_text(response)
    assert Profile.objects.get(user=person).display_name == ""


def test_sign_up_refuses_a_control_in_the_username(client):
    response = client.post(
        "/accounts/signup/",
        {"username": f"ali{RLO}ce", "email": "a@example.com", "password": "lantern-42-x"},
    )
    assert response.status_code == 200
    assert not User.objects.filter(email="a@example.com").exists()


def test_services_refuse_controls_whatever_calls_them():
    person = make_user()
    board = make_board(person)
    with pytest.raises(ValidationError, match="direction"):
        board_services.board_create(owner=person, name=f"x{RLO}")
    with pytest.raises(ValidationError, match="direction"):
        board_services.board_update(board=board, name="y", description="\u2066", is_secret=False)
    with pytest.raises(ValidationError, match="direction"):
        pin_create(owner=person, media_asset=make_ready_asset(person), board=board, title=RLO)
    with pytest.raises(ValidationError, match="direction"):
        account_services.profile_update(user=person, display_name="\u200f", bio="", website="")
    with pytest.raises(ValidationError, match="direction"):
        account_services.user_create(username="bidi-person", display_name=f"a{RLO}")
    assert not User.objects.filter(username="bidi-person").exists()
    assert Board.objects.filter(owner=person).count() == 1
    assert not Pin.objects.filter(owner=person).exists()
