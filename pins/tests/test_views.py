import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import make_user
from boards.services import board_pin_add
from boards.tests.factories import make_board
from media.tests.factories import make_ready_asset
from pins.tests.factories import make_pin

pytestmark = pytest.mark.django_db


def _pins(owner, board, count):
    pins = []
    for index in range(count):
        asset = make_ready_asset(owner, dominant_color="#aabbcc", width=1000, height=1500)
        pins.append(
            make_pin(owner, board, media_asset=asset, title=f"Pin {index}", alt_text=f"Alt {index}")
        )
    return pins


def test_home_shows_public_pins_with_reserved_space_and_srcset(client):
    owner = make_user()
    public = _pins(owner, make_board(owner, "Open"), 2)
    secret = _pins(owner, make_board(owner, "Hidden", is_secret=True), 1)
    page = client.get("/").content.decode()
    for pin in public:
        assert f'href="/pin/{pin.pk}/"' in page
    assert f'href="/pin/{secret[0].pk}/"' not in page
    assert 'width="1000" height="1500"' in page
    assert "background-color: #aabbcc" in page
    # On S3 each URL carries its signature as a query string.
    assert re.search(r"grid-236\.webp\S* 236w", page) and re.search(r"grid-736\.webp\S* 736w", page)
    assert 'alt="Alt 0"' in page


def test_secret_pins_and_boards_are_404_for_others_and_200_for_the_owner(client):
    owner, stranger = make_user(), make_user()
    board = make_board(owner, "Plans", is_secret=True)
    pin = _pins(owner, board, 1)[0]
    for url in (pin.get_absolute_url(), board.get_absolute_url()):
        assert client.get(url).status_code == 404
        client.force_login(stranger)
        assert client.get(url).status_code == 404
        client.force_login(owner)
        assert client.get(url).status_code == 200
        client.logout()


def test_pin_page_shows_source_safely_and_the_visible_boards(client):
    owner = make_user()
    public_board = make_board(owner, "Open")
    secret_board = make_board(owner, "Hidden", is_secret=True)
    pin = make_pin(owner, public_board, title="Lake", source_url="https://example.com/lake")
    board_pin_add(board=secret_board, pin=pin, added_by=owner)
    page = client.get(pin.get_absolute_url()).content.decode()
    assert 'rel="nofollow ugc noopener"' in page
    assert "Open" in page and "Hidden" not in page


def test_profile_lists_public_boards_only(client):
    owner = make_user("joan")
    make_board(owner, "Open")
    make_board(owner, "Hidden", is_secret=True)
    page = client.get("/people/JOAN/").content.decode()
    assert "Open" in page and "Hidden" not in page
    assert client.get("/people/nobody-here/").status_code == 404


@pytest.mark.parametrize("url_for", [lambda board: "/", lambda board: board.get_absolute_url()])
def test_grid_pages_use_a_constant_number_of_queries(client, url_for):
    owner = make_user()
    board = make_board(owner)
    _pins(owner, board, 3)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url_for(board)).status_code == 200
    _pins(owner, board, 12)
    with CaptureQueriesContext(connection) as many:
        assert client.get(url_for(board)).status_code == 200
    assert len(many) == len(few) <= 4


def test_health_endpoint(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_a_card_draws_its_placeholder_and_keeps_jpeg_fallbacks_out_of_srcset(client):
    from media import services
    from media.tests.factories import image_bytes

    owner = make_user()
    asset = services.media_asset_create(owner=owner, data=image_bytes(width=900, height=600))
    services.media_asset_process(asset_id=asset.pk)
    make_pin(owner, make_board(owner), media_asset=asset, title="Placeholder")
    page = client.get("/").content.decode()
    assert "background-image: url('data:image/png;base64," in page
    match = re.search(r'srcset="([^"]+)"', page)
    assert match is not None
    srcset = match.group(1)
    assert srcset.count("w,") == 2 and ".webp" in srcset and ".jpeg" not in srcset


# --- Secret and missing answer alike ---------------------------------------------------------


def test_publishing_onto_someone_elses_board_answers_as_for_a_missing_board(client):
    """No existence oracle: another person's secret board, their public board and an id that
    names no board give the same status and the same words, and nothing is published."""
    from pins.models import Pin

    person, other = make_user(), make_user()
    make_board(person)
    secret = make_board(other, is_secret=True)
    public = make_board(other)
    asset = make_ready_asset(person)
    client.force_login(person)
    missing = max(secret.pk, public.pk) + 1000
    answers = []
    for board_id in (secret.pk, public.pk, missing):
        json_answer = client.post(
            "/pin/publish/",
            {"asset": asset.pk, "board": board_id, "title": "t"},
            HTTP_ACCEPT="application/json",
        )
        form_answer = client.post(
            "/pin/publish/", {"asset": asset.pk, "board": board_id, "title": "t"}, follow=True
        )
        answers.append(
            (
                json_answer.status_code,
                json_answer.json(),
                form_answer.status_code,
                [str(m) for m in form_answer.context["messages"]],
            )
        )
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][1] == {"errors": {"board": ["Choose one of your boards."]}}
    assert not Pin.objects.filter(media=asset).exists()


def test_saving_onto_someone_elses_secret_board_answers_as_for_a_missing_board(client):
    from pins.models import Pin

    owner, person, other = make_user(), make_user(), make_user()
    pin = make_pin(owner, make_board(owner), media_asset=make_ready_asset(owner))
    secret = make_board(other, is_secret=True)
    client.force_login(person)
    before = Pin.objects.count()
    texts = []
    for board_id in (secret.pk, secret.pk + 1000):
        response = client.post(f"/pin/{pin.pk}/save/", {"board": board_id})
        assert response.status_code == 400
        errors = response.context["save_form"].errors
        texts.append(errors.as_json())
    assert texts[0] == texts[1]
    assert Pin.objects.count() == before


def test_following_reporting_or_saving_a_secret_pin_or_board_is_a_plain_404(client):
    owner, person = make_user(), make_user()
    secret = make_board(owner, is_secret=True)
    pin = make_pin(owner, secret, media_asset=make_ready_asset(owner))
    client.force_login(person)
    missing_pin = pin.pk + 1000
    for action, body in (("save", {"board": ""}), ("report", {"reason": "spam"})):
        hidden = client.post(f"/pin/{pin.pk}/{action}/", body)
        absent = client.post(f"/pin/{missing_pin}/{action}/", body)
        assert hidden.status_code == absent.status_code == 404
        assert _without_tokens(hidden) == _without_tokens(absent)
    hidden = client.post(f"/boards/{owner.username}/{secret.slug}/follow/")
    absent = client.post(f"/boards/{owner.username}/no-such-board/follow/")
    assert hidden.status_code == absent.status_code == 404
    assert _without_tokens(hidden) == _without_tokens(absent)


def _without_tokens(response) -> str:
    """The page without its CSRF tokens, which differ on every response."""
    return re.sub(r'(content|value)="[A-Za-z0-9]{64}"', "", response.content.decode())
