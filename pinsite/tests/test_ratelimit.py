"""Rate limits, each exercised through real requests: log-in lockout per account and per address,
sign-up, password reset, upload, search and reports; the 429 page and JSON; a cache that is down."""

from __future__ import annotations

import time

import pytest
from django.core import mail
from django.core.cache import cache

from accounts.models import User
from accounts.tests.factories import make_user
from boards.tests.factories import make_board
from media.models import MediaAsset
from media.tests.factories import image_bytes, make_ready_asset
from pins.models import PinReport
from pins.tests.factories import make_pin
from pinsite import ratelimit
from pinsite.tests.html import page_text

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
PASSWORD = "pw-for-tests"


@pytest.fixture
def limits(settings):
    """Set some limits to small numbers for one test: ``limits(search=(3, 60))``."""

    def set_limits(**changes: tuple[int, int]) -> None:
        settings.RATE_LIMITS = {**settings.RATE_LIMITS, **changes}

    return set_limits


def _logged_in(client) -> bool:
    return bool(client.session.get("_auth_user_id"))


def _assert_429_page(response, words: str) -> None:
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert words in page_text(response)


# --- Log-in ----------------------------------------------------------------------------------


def test_forty_wrong_passwords_lock_the_account_even_against_the_right_one(client):
    person = make_user("lockme")
    for _ in range(40):
        wrong = client.post(LOGIN, {"username": "lockme", "password": "guess"})
        assert wrong.status_code in (200, 429)
    response = client.post(LOGIN, {"username": "LockMe", "password": PASSWORD})
    assert response.status_code == 429
    assert not _logged_in(client)
    assert int(response["Retry-After"]) > 0
    assert "Too many attempts; try again in" in page_text(response)
    assert "minute" in page_text(response)
    person.refresh_from_db()
    assert person.last_login is None


def test_the_lockout_starts_after_the_allowed_count_and_spares_other_accounts(client, limits):
    limits(login_account=(3, 900))
    make_user("target")
    make_user("bystander")
    statuses = [
        client.post(LOGIN, {"username": "target", "password": "guess"}).status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    assert client.post(LOGIN, {"username": "target", "password": PASSWORD}).status_code == 429
    assert not _logged_in(client)
    # Another account from the same address still logs in.
    response = client.post(LOGIN, {"username": "bystander", "password": PASSWORD})
    assert response.status_code == 302
    assert _logged_in(client)


def test_wrong_passwords_from_one_address_lock_every_account_from_it(client, limits):
    limits(login_ip=(4, 900))
    for n in range(4):
        make_user(f"sprayed{n}")
        client.post(LOGIN, {"username": f"sprayed{n}", "password": "guess"})
    make_user("fresh")
    response = client.post(LOGIN, {"username": "fresh", "password": PASSWORD})
    _assert_429_page(response, "Too many attempts")
    # The same account from another address is fine.
    response = client.post(
        LOGIN, {"username": "fresh", "password": PASSWORD}, REMOTE_ADDR="192.0.2.7"
    )
    assert response.status_code == 302


def _cache_breaker_open_for_a_minute() -> None:
    """The cache's circuit breaker open, as after Redis refused a connection."""
    cache.breaker.failed("Redis refused the connection")  # type: ignore[attr-defined]
    cache.breaker._open_until = time.monotonic() + 60  # type: ignore[attr-defined]


def test_log_in_stays_limited_while_the_shared_cache_is_down(client, limits, services):
    """With Redis unreachable (the cache backing off, as after a refused connection), log-in
    failures are counted in this process instead of being let through."""
    limits(login_account=(3, 900))
    make_user("whilecachedown")
    _cache_breaker_open_for_a_minute()
    try:
        assert not cache.available  # type: ignore[attr-defined]
        statuses = [
            client.post(LOGIN, {"username": "whilecachedown", "password": "guess"}).status_code
            for _ in range(4)
        ]
        assert statuses == [200, 200, 200, 429]
        response = client.post(LOGIN, {"username": "whilecachedown", "password": PASSWORD})
        assert response.status_code == 429
        assert not _logged_in(client)
    finally:
        cache.breaker.reset()  # type: ignore[attr-defined]


def test_search_fails_open_while_the_shared_cache_is_down(client, limits, services):
    limits(search=(1, 60))
    _cache_breaker_open_for_a_minute()
    try:
        for _ in range(3):
            assert client.get("/search/?q=tea").status_code == 200
    finally:
        cache.breaker.reset()  # type: ignore[attr-defined]
    client.get("/search/?q=tea")
    assert client.get("/search/?q=tea").status_code == 429  # counted again once it is back


# --- Sign-up and password reset --------------------------------------------------------------


def test_sign_ups_from_one_address_are_limited(client, limits):
    limits(signup_ip=(2, 3600))
    for n in range(2):
        client.post(
            "/accounts/signup/",
            {"username": f"new{n}", "email": f"new{n}@example.com", "password": "lantern-42-x"},
        )
        client.logout()
    response = client.post(
        "/accounts/signup/",
        {"username": "new2", "email": "new2@example.com", "password": "lantern-42-x"},
    )
    _assert_429_page(response, "Too many sign-ups from your network; try again in")
    assert not User.objects.filter(username="new2").exists()
    assert User.objects.filter(username__startswith="new").count() == 2


def test_password_reset_mails_to_one_address_are_limited(client, limits):
    limits(password_reset_email=(2, 3600))
    make_user("forgetful", email="forgetful@example.com")
    url = "/accounts/password-reset/"
    for _ in range(2):
        assert client.post(url, {"email": "forgetful@example.com"}).status_code == 302
    response = client.post(url, {"email": "Forgetful@Example.com"})
    _assert_429_page(response, "Too many password reset requests; try again in")
    assert len(mail.outbox) == 2
    # Another address is not held back by it.
    assert client.post(url, {"email": "someone@example.com"}).status_code == 302


def test_password_reset_requests_from_one_address_are_limited(client, limits):
    limits(password_reset_ip=(3, 3600))
    url = "/accounts/password-reset/"
    for n in range(3):
        assert client.post(url, {"email": f"nobody{n}@example.com"}).status_code == 302
    _assert_429_page(client.post(url, {"email": "nobody9@example.com"}), "Too many")


# --- Upload, search, reports -----------------------------------------------------------------


def test_uploads_are_limited_per_person_with_a_json_429(client, limits):
    limits(upload=(2, 3600))
    person = make_user()
    client.force_login(person)
    for n in range(2):
        data = image_bytes(color=(50 * n, 40, 40))
        response = client.post("/pin/upload/", {"file": _named(data)})
        assert response.status_code == 201, response.content
    before = MediaAsset.objects.count()
    response = client.post("/pin/upload/", {"file": _named(image_bytes(color=(9, 9, 9)))})
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    assert "Too many uploads" in response.json()["error"]
    assert int(response["Retry-After"]) > 0
    assert MediaAsset.objects.count() == before
    # The confirm step of a direct upload counts too (and answers JSON even to a plain form).
    assert client.post("/pin/upload/confirm/", {"upload": "1"}).status_code == 429
    # Somebody else uploads as usual.
    client.force_login(make_user())
    assert (
        client.post("/pin/upload/", {"file": _named(image_bytes(color=(5, 5, 5)))}).status_code
        == 201
    )


def _named(data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("photo.jpg", data, content_type="image/jpeg")


def test_searches_are_limited_per_person_and_per_address(client, limits):
    limits(search=(3, 60))
    for _ in range(3):
        assert client.get("/search/?q=tea").status_code == 200
    _assert_429_page(client.get("/search/?q=tea"), "Too many searches in a short time")
    # Signed in, a person counts on their own.
    client.force_login(make_user())
    assert client.get("/search/?q=tea").status_code == 200


def test_reports_are_limited_per_person(client, limits):
    limits(report=(2, 3600))
    owner = make_user()
    board = make_board(owner)
    pins = [make_pin(owner, board, media_asset=make_ready_asset(owner)) for _ in range(3)]
    reporter = make_user()
    client.force_login(reporter)
    for pin in pins[:2]:
        response = client.post(f"/pin/{pin.pk}/report/", {"reason": "spam"})
        assert response.status_code == 302
    response = client.post(f"/pin/{pins[2].pk}/report/", {"reason": "spam"})
    _assert_429_page(response, "You have sent many reports in a short time")
    assert PinReport.objects.filter(reporter=reporter).count() == 2


def test_a_limit_set_to_zero_is_off(client, limits):
    limits(search=(0, 0))
    for _ in range(5):
        assert client.get("/search/?q=tea").status_code == 200


def test_verdict_minutes_round_up():
    assert ratelimit.Verdict(False, 61).minutes == 2
    assert ratelimit.in_minutes(ratelimit.Verdict(False, 5)) == "1 minute"


def test_without_redis_every_process_of_the_site_shares_the_counts(
    tmp_path, settings, limits, monkeypatch
):
    """The embedded default runs several web processes: a guesser's wrong passwords counted in one
    are seen by another (a real second Python process, configured as `make run` configures it)."""
    import os
    import subprocess
    import sys

    from stack.pytest_plugin import settings_variables

    location = tmp_path / "cache" / "ratelimit"
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(location),
        },
    }
    monkeypatch.setattr(ratelimit, "namespace", "rl")  # the name every process uses
    limits(login_account=(3, 900))
    for _ in range(3):
        ratelimit.hit("login_account", "shared-guess")
    env = {k: v for k, v in os.environ.items() if k not in settings_variables()}
    env.update(
        DJANGO_SETTINGS_MODULE="pinsite.settings",
        PINSITE_VAR_DIR=str(tmp_path),
        RATE_LIMIT_LOGIN_ACCOUNT="3/900",
    )
    other = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from pinsite import ratelimit; "
            "print(ratelimit.check('login_account', 'shared-guess').allowed, "
            "ratelimit.check('login_account', 'someone-else').allowed)",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert other.stdout.split() == ["False", "True"], other.stderr
