"""Sign-up, log-in, password reset, profile editing, following people and the profile page."""

import re
import unicodedata

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Profile, User, UserFollow
from accounts.tests.factories import make_user
from boards.tests.factories import make_board
from media.models import MediaAsset
from media.tests.factories import image_bytes, make_ready_asset
from pins.tests.factories import make_pin
from pinsite.tests.html import input_value, page_text

pytestmark = pytest.mark.django_db

SIGNUP = "/accounts/signup/"
LOGIN = "/accounts/login/"
GOOD_PASSWORD = "lantern-orchard-42"


def fullwidth(text: str) -> str:
    """``text`` in full-width forms ("ALICE" becomes U+FF21 U+FF2C ...), which NFKC folds back."""
    return "".join(chr(ord(char) + 0xFEE0) for char in text)


# Looks exactly like a Latin "a"; a name using it would impersonate one spelt with the Latin letter.
CYRILLIC_A = unicodedata.lookup("CYRILLIC SMALL LETTER A")


def _logged_in_id(client) -> int | None:
    user_id = client.session.get("_auth_user_id")
    return int(user_id) if user_id else None


def _signup(client, username="newcomer", email="newcomer@example.com", password=GOOD_PASSWORD):
    return client.post(SIGNUP, {"username": username, "email": email, "password": password})


# --- Sign-up ---------------------------------------------------------------------------------


def test_signup_normalises_the_name_logs_in_and_goes_to_board_creation(client):
    response = _signup(client, username=fullwidth("ALICE"), email="Alice@Example.COM")
    assert response.status_code == 302
    assert response.url == "/boards/new/"
    user = User.objects.get()
    assert (user.username, user.email) == ("alice", "alice@example.com")
    assert user.check_password(GOOD_PASSWORD)
    assert Profile.objects.filter(user=user).exists()
    assert _logged_in_id(client) == user.pk
    page = page_text(client.get(response.url))
    assert "Welcome to pinsite, alice." in page


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("admin", "That name is reserved."),
        ("search", "That name is reserved."),
        ("ad-min", "That name is reserved."),
        (fullwidth("ADMIN"), "That name is reserved."),
        (CYRILLIC_A + "lice", "Use 3-30 letters a-z"),
        ("al", "Use 3-30 letters a-z"),
        ("al ice", "Use 3-30 letters a-z"),
    ],
)
def test_signup_refuses_reserved_and_confusable_names_keeping_the_input(client, typed, message):
    response = _signup(client, username=typed, email="kept@example.com")
    assert response.status_code == 200
    assert message in page_text(response)
    assert input_value(response, "username") == typed
    assert input_value(response, "email") == "kept@example.com"
    assert input_value(response, "password") is None  # a password is never echoed back
    assert not User.objects.exists()
    assert _logged_in_id(client) is None


def test_signup_refuses_a_name_taken_in_another_case(client):
    make_user("alice")
    response = _signup(client, username="Alice", email="second@example.com")
    assert response.status_code == 200
    assert "That name is taken. Please choose another." in page_text(response)
    assert input_value(response, "username") == "Alice"
    assert input_value(response, "email") == "second@example.com"
    assert User.objects.count() == 1


def test_signup_answers_alike_whether_or_not_the_address_has_an_account(client):
    """No oracle: an address in use (in another case) gets the same redirect, welcome and log-in
    as a new one; the new account is made without it and the address's owner is told by mail."""
    from django.core import mail
    from django.test import Client

    first = make_user("first", email="shared@example.com")
    taken = _signup(client, username="second", email="SHARED@example.com")
    fresh_client = Client()
    fresh = _signup(fresh_client, username="third", email="new@example.com")
    assert (taken.status_code, taken.url) == (fresh.status_code, fresh.url) == (302, "/boards/new/")
    tokens = re.compile(r'(content|value)="[A-Za-z0-9]{64}"')  # CSRF, new on every page
    taken_page = tokens.sub("", page_text(client.get(taken.url)))
    fresh_page = tokens.sub("", page_text(fresh_client.get(fresh.url)))
    assert taken_page.replace("second", "NAME") == fresh_page.replace("third", "NAME")
    second = User.objects.get(username="second")
    assert _logged_in_id(client) == second.pk
    assert second.email == ""
    first.refresh_from_db()
    assert first.email == "shared@example.com"
    assert User.objects.get(username="third").email == "new@example.com"
    # One mail to each address: the owner learns of the attempt, the newcomer is welcomed.
    assert [m.to for m in mail.outbox] == [["shared@example.com"], ["new@example.com"]]
    assert "already belongs to your account first" in mail.outbox[0].body
    assert "/accounts/password-reset/" in mail.outbox[0].body
    assert "Welcome to pinsite, third." in mail.outbox[1].body


def test_a_refused_signup_reads_the_same_for_a_taken_and_a_new_address(client):
    make_user("first", email="shared@example.com")
    errors = []
    for email in ("shared@example.com", "nobody@example.com"):
        response = _signup(client, username="second", email=email, password="short")
        assert response.status_code == 200
        errors.append(response.context["form"].errors.get_json_data())
    assert errors[0] == errors[1]
    assert list(errors[0]) == ["password"]


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("12345678", "This password is too common."),
        ("x7!q", "This password is too short."),
        ("98127364509", "This password is entirely numeric."),
        ("newcomer-1", "The password is too similar to the username."),
    ],
)
def test_signup_refuses_a_weak_password(client, password, message):
    response = _signup(client, password=password)
    assert response.status_code == 200
    assert message in page_text(response)
    assert input_value(response, "username") == "newcomer"
    assert input_value(response, "email") == "newcomer@example.com"
    assert not User.objects.exists()


def test_signup_page_sends_a_logged_in_person_home(client):
    client.force_login(make_user())
    assert client.get(SIGNUP)["Location"] == "/"
    assert User.objects.count() == 1


# --- Log-in and log-out ----------------------------------------------------------------------


def test_login_with_the_right_password_and_not_with_a_wrong_one(client):
    user = make_user("walker")
    response = client.post(LOGIN, {"username": "walker", "password": "wrong-password"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in page_text(response)
    assert _logged_in_id(client) is None

    response = client.post(LOGIN, {"username": "walker", "password": "pw-for-tests"})
    assert response.status_code == 302 and response.url == "/"
    assert _logged_in_id(client) == user.pk


@pytest.mark.parametrize("typed", ["Walker", fullwidth("WALKER"), " walker "])
def test_login_accepts_the_name_as_it_was_typed_at_signup(client, typed):
    # Sign-up folds "Walker" to "walker"; logging in with the same spelling must work too.
    user = make_user("walker")
    response = client.post(LOGIN, {"username": typed, "password": "pw-for-tests"})
    assert response.status_code == 302
    assert _logged_in_id(client) == user.pk


@pytest.mark.parametrize("typed", ["Boss", "boss"])
def test_login_still_works_for_a_mixed_case_name_made_outside_signup(client, typed):
    # createsuperuser stores the name as given, without sign-up's lowercasing.
    boss = User.objects.create_superuser("Boss", "boss@example.com", "pw-for-tests")
    response = client.post(LOGIN, {"username": typed, "password": "pw-for-tests"})
    assert response.status_code == 302
    assert _logged_in_id(client) == boss.pk


def test_login_follows_next_and_skips_the_form_when_logged_in(client):
    make_user("walker")
    response = client.post(
        LOGIN, {"username": "walker", "password": "pw-for-tests", "next": "/boards/new/"}
    )
    assert response.url == "/boards/new/"
    assert client.get(LOGIN)["Location"] == "/"


def test_logout_is_post_only(client):
    user = make_user()
    client.force_login(user)
    assert client.get("/accounts/logout/").status_code == 405
    assert _logged_in_id(client) == user.pk
    response = client.post("/accounts/logout/")
    assert response.status_code == 302 and response.url == "/"
    assert _logged_in_id(client) is None


# --- Password reset --------------------------------------------------------------------------


def test_password_reset_mails_a_link_that_sets_a_new_password_once(client, mailoutbox):
    user = make_user("forgetful", email="forgetful@example.com")
    response = client.post("/accounts/password-reset/", {"email": "Forgetful@Example.com"})
    assert response.status_code == 302
    assert response.url == "/accounts/password-reset/sent/"
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["forgetful@example.com"]
    assert mail.subject == "Reset your pinsite password"
    assert "forgetful" in mail.body
    link = re.search(r"http://testserver(/accounts/password-reset/[^/\s]+/[^/\s]+/)", mail.body)
    assert link, mail.body

    # Django swaps the token for a session marker and redirects to the form.
    response = client.get(link.group(1))
    assert response.status_code == 302
    form_url = response.url
    assert "Choose a new password" in page_text(client.get(form_url))
    response = client.post(
        form_url, {"new_password1": "brand-new-secret-77", "new_password2": "brand-new-secret-77"}
    )
    assert response.status_code == 302
    assert response.url == "/accounts/password-reset/done/"

    response = client.post(LOGIN, {"username": "forgetful", "password": "pw-for-tests"})
    assert response.status_code == 200 and _logged_in_id(client) is None
    response = client.post(LOGIN, {"username": "forgetful", "password": "brand-new-secret-77"})
    assert response.status_code == 302 and _logged_in_id(client) == user.pk

    client.post("/accounts/logout/")
    reused = client.get(link.group(1), follow=True)
    assert "This link has expired or was already used." in page_text(reused)


def test_password_reset_for_an_unknown_address_looks_the_same_and_sends_nothing(client, mailoutbox):
    make_user(email="someone@example.com")
    response = client.post("/accounts/password-reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert response.url == "/accounts/password-reset/sent/"
    assert mailoutbox == []


# --- Editing one's profile -------------------------------------------------------------------


def test_profile_edit_needs_a_login(client):
    response = client.get("/accounts/profile/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/?next=/accounts/profile/")


def test_profile_edit_saves_name_bio_and_website(client):
    user = make_user("painter")
    client.force_login(user)
    response = client.post(
        "/accounts/profile/",
        {"display_name": " Pat Painter ", "bio": "Oils and ink.", "website": "example.com/pat"},
    )
    assert response.status_code == 302
    assert response.url == "/people/painter/"
    profile = Profile.objects.get(user=user)
    assert (profile.display_name, profile.bio, profile.website) == (
        "Pat Painter",
        "Oils and ink.",
        "https://example.com/pat",
    )
    page = page_text(client.get(response.url))
    assert "Profile saved." in page
    assert "<h1>Pat Painter</h1>" in page
    assert 'href="https://example.com/pat" rel="nofollow ugc noopener"' in page


@pytest.mark.parametrize(
    ("website", "message"),
    [
        ("javascript:alert(document.cookie)", "Enter a valid URL."),
        ("ftp://example.com/file", "Links must start with http:// or https://."),
    ],
)
def test_profile_edit_refuses_a_non_http_website_and_changes_nothing(client, website, message):
    user = make_user("painter", display_name="Before")
    client.force_login(user)
    response = client.post(
        "/accounts/profile/", {"display_name": "After", "bio": "new", "website": website}
    )
    assert response.status_code == 200
    assert message in page_text(response)
    assert input_value(response, "display_name") == "After"
    profile = Profile.objects.get(user=user)
    assert (profile.display_name, profile.bio, profile.website) == ("Before", "", "")


def test_profile_edit_avatar_upload_stores_the_image_and_sets_the_avatar(client):
    user = make_user("painter")
    client.force_login(user)
    upload = SimpleUploadedFile("me.png", image_bytes(96, 96, fmt="PNG"), "image/png")
    response = client.post(
        "/accounts/profile/",
        {"display_name": "Pat", "bio": "", "website": "", "avatar_file": upload},
    )
    assert response.status_code == 302
    asset = MediaAsset.objects.get()
    assert (asset.owner, asset.format, asset.width, asset.height) == (user, "png", 96, 96)
    assert default_storage.exists(asset.original_key)
    assert Profile.objects.get(user=user).avatar == asset


def test_profile_edit_refuses_a_file_that_is_not_an_image_and_changes_nothing(client):
    user = make_user("painter", display_name="Before")
    client.force_login(user)
    upload = SimpleUploadedFile("me.jpg", b"%PDF-1.7 this is a document", "image/jpeg")
    response = client.post(
        "/accounts/profile/",
        {"display_name": "After", "bio": "", "website": "", "avatar_file": upload},
    )
    assert response.status_code == 200
    assert "This file is not an image pinsite can read." in page_text(response)
    assert input_value(response, "display_name") == "After"
    assert not MediaAsset.objects.exists()
    profile = Profile.objects.get(user=user)
    assert (profile.display_name, profile.avatar) == ("Before", None)


# --- Following people ------------------------------------------------------------------------


def test_follow_and_unfollow_a_person(client):
    fan, star = make_user("fan"), make_user("star")
    client.force_login(fan)
    response = client.post("/people/STAR/follow/", follow=True)
    assert response.redirect_chain == [("/people/star/", 302)]
    page = page_text(response)
    assert "You follow star" in page
    assert "1 follower" in page and ">Unfollow</button>" in page
    assert UserFollow.objects.filter(follower=fan, followee=star).exists()

    client.post("/people/star/follow/")  # twice is the same as once
    assert UserFollow.objects.filter(follower=fan, followee=star).count() == 1

    page = page_text(client.post("/people/star/follow/", {"action": "unfollow"}, follow=True))
    assert "You no longer follow star." in page
    assert "0 followers" in page
    assert not UserFollow.objects.exists()


def test_follow_refuses_get_yourself_and_anonymous(client):
    me, other = make_user("me-myself"), make_user("other")
    url = "/people/other/follow/"

    response = client.post(url)
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/?next=")

    client.force_login(me)
    assert client.get(url).status_code == 405
    response = client.post("/people/me-myself/follow/", follow=True)
    assert "You cannot follow yourself." in page_text(response)
    assert client.post("/people/nobody-here/follow/").status_code == 404
    assert not UserFollow.objects.exists()
    assert other.followers.count() == 0


# --- The profile page ------------------------------------------------------------------------


def test_profile_page_hides_secret_boards_and_their_pins_from_others(client):
    owner, stranger, helper = make_user("joan"), make_user(), make_user()
    public_board = make_board(owner, "Sunlit Garden")
    secret_board = make_board(owner, "Hidden Diary", is_secret=True)
    secret_board.collaborators.add(helper, through_defaults={"invited_by": owner})
    public_pin = make_pin(owner, public_board, title="Roses")
    secret_pin = make_pin(owner, secret_board, title="Private note")

    def seen(viewer):
        if viewer is None:
            client.logout()
        else:
            client.force_login(viewer)
        response = client.get("/people/joan/")
        assert response.status_code == 200
        page = page_text(response)
        return {
            "public board": "Sunlit Garden" in page and public_board.get_absolute_url() in page,
            "secret board": "Hidden Diary" in page or secret_board.get_absolute_url() in page,
            "public pin": f'href="/pin/{public_pin.pk}/"' in page,
            "secret pin": f'href="/pin/{secret_pin.pk}/"' in page or "Private note" in page,
        }

    everything = dict.fromkeys(["public board", "secret board", "public pin", "secret pin"], True)
    public_only = {**everything, "secret board": False, "secret pin": False}
    assert seen(None) == public_only
    assert seen(stranger) == public_only
    assert seen(owner) == everything
    assert seen(helper) == everything


def test_profile_page_of_a_person_without_a_profile_row(client):
    # createsuperuser and the admin make users without going through user_create.
    User.objects.create_user("staffer", password="pw-for-tests")
    response = client.get("/people/staffer/")
    assert response.status_code == 200
    assert "@staffer" in page_text(response)


def _ready_pins(owner, count):
    """``count`` pins with grid renditions, each on a board of its own."""
    for index in range(count):
        asset = make_ready_asset(owner, dominant_color="#aabbcc")
        make_pin(owner, make_board(owner), media_asset=asset, title=f"Pin {index}")


@pytest.mark.parametrize("viewer", ["anonymous", "owner", "someone else"])
def test_profile_page_queries_do_not_grow_with_pins_and_boards(client, viewer):
    owner = make_user("prolific")
    if viewer != "anonymous":
        client.force_login(owner if viewer == "owner" else make_user())
    _ready_pins(owner, 3)
    with CaptureQueriesContext(connection) as few:
        assert client.get("/people/prolific/").status_code == 200
    _ready_pins(owner, 27)
    with CaptureQueriesContext(connection) as many:
        response = client.get("/people/prolific/")
    assert response.status_code == 200
    assert page_text(response).count('class="card"') == 30
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


def test_a_profile_lists_its_newest_boards_then_all_of_them_on_request(client, monkeypatch):
    from accounts import views

    monkeypatch.setattr(views, "PROFILE_BOARDS", 3)
    owner = make_user()
    boards = [make_board(owner, f"Board {n}") for n in range(5)]
    secret = make_board(owner, "Hidden plans", is_secret=True)

    first = client.get(owner.get_absolute_url()).content.decode()
    shown = [board.name for board in boards if board.get_absolute_url() in first]
    assert shown == ["Board 2", "Board 3", "Board 4"]  # the newest three a visitor may see
    assert "Show all boards" in first and secret.name not in first

    everything = client.get(owner.get_absolute_url(), {"boards": "all"}).content.decode()
    assert all(board.get_absolute_url() in everything for board in boards)
    assert "Show all boards" not in everything and secret.name not in everything

    client.force_login(owner)
    mine = client.get(owner.get_absolute_url(), {"boards": "all"}).content.decode()
    assert secret.name in mine
