"""accounts.services and accounts.usernames: who may exist, what a profile holds, who follows whom."""

import unicodedata

import pytest
from django.core.exceptions import ValidationError

from accounts import services
from accounts.models import Profile, User, UserFollow
from accounts.tests.factories import make_user
from accounts.usernames import username_normalize, username_validate
from media.models import MediaAsset
from media.tests.factories import image_bytes, make_asset
from pins.tests.factories import make_pin

pytestmark = pytest.mark.django_db


def fullwidth(text: str) -> str:
    """``text`` in full-width forms ("ALICE" becomes U+FF21 U+FF2C ...), which NFKC folds back."""
    return "".join(chr(ord(char) + 0xFEE0) for char in text)


# Look exactly like Latin "a" and "e"; a name using them would impersonate one spelt in Latin.
CYRILLIC_A = unicodedata.lookup("CYRILLIC SMALL LETTER A")
CYRILLIC_E = unicodedata.lookup("CYRILLIC SMALL LETTER IE")


# --- Usernames -------------------------------------------------------------------------------


def test_the_test_spellings_really_are_not_ascii():
    assert fullwidth("Al_1") == "\uff21\uff4c\uff3f\uff11"
    assert not (CYRILLIC_A + CYRILLIC_E).isascii()


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        (fullwidth("ALICE"), "alice"),
        ("  Bob.Smith ", "bob.smith"),
        (fullwidth("carol_1"), "carol_1"),
    ],
)
def test_usernames_are_nfkc_folded_lowercased_and_stripped(raw, normalised):
    assert username_normalize(raw) == normalised


@pytest.mark.parametrize("name", ["abc", "a.b", "x_1-y", "z" * 30, "adminton", "search2"])
def test_plain_ascii_names_are_accepted(name):
    username_validate(name)


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("admin", "reserved_username"),
        ("search", "reserved_username"),
        ("ad-min", "reserved_username"),
        ("a.d.m_i-n", "reserved_username"),
        ("people", "reserved_username"),
        (CYRILLIC_A + "lice", "invalid_username"),
        ("alic" + CYRILLIC_E, "invalid_username"),
        ("ab", "invalid_username"),
        ("z" * 31, "invalid_username"),
        ("-alice", "invalid_username"),
        ("alice.", "invalid_username"),
        ("al ice", "invalid_username"),
        ("Alice", "invalid_username"),  # validate expects a normalised name
    ],
)
def test_reserved_and_ambiguous_names_are_refused(name, code):
    with pytest.raises(ValidationError) as caught:
        username_validate(name)
    assert caught.value.code == code


# --- Creating people -------------------------------------------------------------------------


def test_user_create_normalises_name_and_email_and_makes_a_profile():
    user = services.user_create(
        username=fullwidth("DANA"),
        email=" Dana@Example.COM ",
        password="pw-for-tests",
        display_name=" D ",
    )
    user.refresh_from_db()
    assert (user.username, user.email) == ("dana", "dana@example.com")
    assert user.check_password("pw-for-tests")
    assert Profile.objects.get(user=user).display_name == "D"


@pytest.mark.parametrize("name", [fullwidth("ADMIN"), "Search", CYRILLIC_A + "lice"])
def test_user_create_refuses_what_sign_up_refuses(name):
    with pytest.raises(ValidationError):
        services.user_create(username=name, password="pw-for-tests")
    assert not User.objects.exists()
    assert not Profile.objects.exists()


def test_user_create_without_a_password_makes_an_account_that_cannot_log_in():
    user = services.user_create(username="imported")
    assert not user.has_usable_password()


def test_user_create_refuses_a_name_or_email_taken_in_another_case():
    services.user_create(username="erin", email="erin@example.com")
    with pytest.raises(ValidationError):
        services.user_create(username="ERIN", email="other@example.com")
    with pytest.raises(ValidationError):
        services.user_create(username="erin2", email="ERIN@example.com")
    assert User.objects.count() == 1


# --- Profiles --------------------------------------------------------------------------------


def _update(user, **changes):
    fields = {"display_name": "", "bio": "", "website": "", **changes}
    return services.profile_update(user=user, **fields)


def test_profile_update_saves_the_stripped_fields():
    user = make_user()
    profile = _update(user, display_name=" Fay ", bio=" Hi \n", website=" https://fay.example ")
    profile.refresh_from_db()
    assert (profile.display_name, profile.bio, profile.website) == (
        "Fay",
        "Hi",
        "https://fay.example",
    )


def test_profile_update_makes_the_profile_row_when_it_is_missing():
    user = User.objects.create_user("legacy")
    _update(user, display_name="Legacy")
    assert Profile.objects.get(user=user).display_name == "Legacy"


@pytest.mark.parametrize("website", ["javascript:alert(1)", "ftp://example.com/x"])
def test_profile_update_refuses_a_non_http_website_and_stores_nothing(website):
    user = make_user(display_name="Before")
    with pytest.raises(ValidationError):
        _update(user, display_name="After", website=website, avatar_data=image_bytes(64, 64))
    profile = Profile.objects.get(user=user)
    assert (profile.display_name, profile.website, profile.avatar) == ("Before", "", None)
    # The avatar's bytes must not be kept when the rest of the profile was refused.
    assert not MediaAsset.objects.exists()


def test_profile_update_refuses_a_non_image_avatar_and_changes_nothing():
    user = make_user(display_name="Before")
    with pytest.raises(ValidationError) as caught:
        _update(user, display_name="After", avatar_data=b"<svg onload=alert(1)>")
    assert caught.value.code == "unreadable"
    assert not MediaAsset.objects.exists()
    assert Profile.objects.get(user=user).display_name == "Before"


def test_a_new_avatar_releases_the_old_one(django_capture_on_commit_callbacks):
    user = make_user()
    first = _update(user, avatar_data=image_bytes(64, 64, color=(1, 2, 3))).avatar
    with django_capture_on_commit_callbacks() as callbacks:
        second = _update(user, avatar_data=image_bytes(64, 64, color=(4, 5, 6))).avatar
    assert first.pk != second.pk
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.released_at is not None
    assert second.released_at is None
    # The new avatar's processing and the old one's purge, both queued after commit.
    assert len(callbacks) == 2


def test_the_same_avatar_again_keeps_the_asset():
    user = make_user()
    first = _update(user, avatar_data=image_bytes(64, 64)).avatar
    again = _update(user, display_name="New name", avatar_data=image_bytes(64, 64)).avatar
    assert again.pk == first.pk
    first.refresh_from_db()
    assert first.released_at is None


def test_an_old_avatar_that_a_pin_also_uses_is_kept():
    user = make_user()
    shared = make_asset(user)
    make_pin(user, media_asset=shared)
    Profile.objects.filter(user=user).update(avatar=shared)
    _update(user, avatar_data=image_bytes(64, 64))
    shared.refresh_from_db()
    assert shared.released_at is None
    assert Profile.objects.get(user=user).avatar_id != shared.pk


def test_editing_text_alone_keeps_the_avatar():
    user = make_user()
    avatar = _update(user, avatar_data=image_bytes(64, 64)).avatar
    assert _update(user, display_name="Only words").avatar == avatar
    avatar.refresh_from_db()
    assert avatar.released_at is None


# --- Following -------------------------------------------------------------------------------


def test_follow_is_idempotent_and_unfollow_is_harmless_twice():
    fan, star = make_user(), make_user()
    first = services.user_follow(follower=fan, followee=star)
    assert services.user_follow(follower=fan, followee=star).pk == first.pk
    assert UserFollow.objects.count() == 1
    assert not UserFollow.objects.filter(follower=star, followee=fan).exists()
    services.user_unfollow(follower=fan, followee=star)
    services.user_unfollow(follower=fan, followee=star)
    assert not UserFollow.objects.exists()


def test_nobody_can_follow_themselves():
    me = make_user()
    with pytest.raises(ValidationError) as caught:
        services.user_follow(follower=me, followee=me)
    assert caught.value.code == "self_follow"
    assert not UserFollow.objects.exists()


def test_an_avatar_can_be_put_back_before_the_old_copy_is_purged():
    user = make_user()
    first = image_bytes(64, 64, color=(1, 2, 3))
    _update(user, avatar_data=first)
    _update(user, avatar_data=image_bytes(64, 64, color=(4, 5, 6)))  # releases the first
    assert _update(user, avatar_data=first).avatar.released_at is None
