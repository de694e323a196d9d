"""The Big List of Naughty Strings through every form field and query parameter of the main pages.

For each string: never a 500; a text field either stores it verbatim (less the surrounding
whitespace every form trims) or refuses it with a message for a reason the site states (too long,
a NUL, a text-direction control, a name already used); what is stored is drawn escaped. The list
is ``data/blns.json`` (MIT, see ``data/blns-LICENSE.txt``) plus a few strings of the bad-inputs
catalogue it lacks (NUL, 10,000 characters, bare ``%`` and ``_``).

Every string goes through every form's validation (no database: fast). Through real requests,
with storage and the page that shows it, hypothesis draws a sample from the list for each surface
(``sampled_from``; a failing string is kept in hypothesis' database and tried first next time),
always including the strings named in ``ALWAYS``; the whole module stays well under a minute on a
busy 2-core machine.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.exceptions import ValidationError
from django.utils.html import escape
from django.utils.text import normalize_newlines
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from accounts.forms import ProfileForm, SignUpForm
from accounts.models import Profile
from accounts.tests.factories import make_user
from boards.forms import BoardForm
from boards.models import Board
from boards.tests.factories import make_board
from media.tests.factories import make_ready_asset
from pins.forms import PinDetailsForm, PinReportForm
from pins.models import Pin, PinReport
from pins.tests.factories import make_pin
from pinsite.bidi import BIDI_CONTROLS

pytestmark = pytest.mark.django_db

BLNS = json.loads((Path(__file__).parent / "data" / "blns.json").read_text(encoding="utf-8"))
EXTRA = ["nul\x00inside", "\x00", "x" * 10_000, "%", "_", "%_%", "a\r\nb\rc\nd", "  padded  "]
STRINGS = [*BLNS, *EXTRA]
SCRIPT = "<script>alert(123)</script>"
RLE = "\u202btest\u202b"  # right-to-left embedding, from the list
ALWAYS = [SCRIPT, RLE, "nul\x00inside", "x" * 10_000, "a\r\nb\rc\nd"]
naughty = st.sampled_from(STRINGS)
# Requests cost tens of milliseconds each here: a sample per surface keeps the module short.
sampled = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def always(test):
    for value in ALWAYS:
        test = example(value=value)(test)
    return test


@pytest.fixture(autouse=True)
def _no_rate_limits(settings):
    # One person sends hundreds of requests a second here; the limits have their own tests.
    settings.RATE_LIMITS_ENABLED = False


def refused_because(value: str, max_length: int, *, required: bool = False) -> bool:
    """Whether a form must refuse ``value`` for one of the reasons the site gives."""
    trimmed = value.strip()
    return (
        "\x00" in value
        or not BIDI_CONTROLS.isdisjoint(value)
        or len(trimmed) > max_length
        or (required and not trimmed)
    )


def test_the_list_is_the_full_one():
    assert len(BLNS) == 485
    assert SCRIPT in BLNS
    assert all(value in STRINGS for value in ALWAYS)


# --- Every string through every form (no requests) -------------------------------------------


def _refused(form, name: str, value: str) -> bool:
    """Whether the form's field ``name`` refuses ``value`` (its validators, with bidi's)."""
    try:
        cleaned = form.fields[name].clean(value)
    except ValidationError:
        return True
    assert cleaned == value.strip(), (name, value)  # kept verbatim, less the trimmed ends
    return False


FIELDS = [
    (lambda: PinDetailsForm(), {"title": 200, "description": 2000, "alt_text": 500}),
    (lambda: BoardForm(), {"name": 100, "description": 2000}),
    (lambda: ProfileForm(), {"display_name": 80, "bio": 500}),
    (lambda: PinReportForm(), {"detail": 1000}),
]


def test_every_string_in_every_text_field_of_every_form_is_kept_or_refused_for_a_reason():
    forms = [(make(), limits) for make, limits in FIELDS]
    for value in STRINGS:
        for form, limits in forms:
            for name, limit in limits.items():
                required = form.fields[name].required
                expected = refused_because(value, limit, required=required)
                assert _refused(form, name, value) == expected, (type(form).__name__, name, value)
        assert _refused(PinReportForm(), "reason", value)
        source = PinDetailsForm({"asset": "1", "board": "1", "source_url": value})
        if source.is_valid() and source.cleaned_data["source_url"]:
            assert source.cleaned_data["source_url"].startswith(("http://", "https://")), value


def test_every_string_as_a_username_is_refused_or_normalised_to_the_allowed_letters():
    import re

    for value in STRINGS:
        form = SignUpForm({"username": value, "email": "x@example.com", "password": "x"})
        form.is_valid()
        if "username" not in form.errors:
            assert re.fullmatch(r"[a-z0-9][a-z0-9_.-]{1,28}[a-z0-9]", form.cleaned_data["username"])


# --- A sample through real requests: stored verbatim, drawn escaped ---------------------------


@pytest.fixture
def publisher(client):
    person = make_user()
    client.force_login(person)
    return client, make_board(person), make_ready_asset(person)


@sampled
@always
@given(value=naughty)
def test_pin_text_is_stored_verbatim_or_refused_and_drawn_escaped(publisher, value):
    client, board, asset = publisher
    limits = {"title": 200, "description": 2000, "alt_text": 500}
    data = {"asset": asset.pk, "board": board.pk, **dict.fromkeys(limits, value)}
    response = client.post("/pin/publish/", data, HTTP_ACCEPT="application/json")
    refused = {name for name, limit in limits.items() if refused_because(value, limit)}
    if refused:
        assert response.status_code == 400, value
        assert set(response.json()["errors"]) == refused, value
        return
    assert response.status_code == 201, (value, response.content)
    pin = Pin.objects.get(pk=response.json()["pin"])
    assert (pin.title, pin.description, pin.alt_text) == (value.strip(),) * 3
    page = client.get(pin.get_absolute_url()).content.decode()
    if pin.title:
        assert f"<h1>{escape(pin.title)}</h1>" in page, value
        shown = escape(normalize_newlines(pin.description)).replace("\n", "<br>")
        assert f"<p>{shown}</p>" in page, value
        assert f'alt="{escape(pin.alt_text)}"' in page, value
    if "<" in value:
        assert value.strip() not in page, value


@pytest.fixture
def board_maker(client):
    person = make_user()
    client.force_login(person)
    return client, person


@sampled
@always
@given(value=naughty)
def test_board_text_is_stored_verbatim_or_refused_and_drawn_escaped(board_maker, value):
    client, person = board_maker
    trimmed = value.strip()
    taken = (
        bool(trimmed)
        and "\x00" not in trimmed  # no row can hold one; the form refuses it first
        and Board.objects.filter(owner=person, name__iexact=trimmed).exists()
    )
    before = Board.objects.filter(owner=person).count()
    response = client.post("/boards/new/", {"name": value, "description": value})
    expected = {
        name
        for name, limit in (("name", 100), ("description", 2000))
        if refused_because(value, limit, required=name == "name")
    }
    if expected or taken:
        assert response.status_code == 200, value
        assert set(response.context["form"].errors) == expected | ({"name"} if taken else set())
        assert Board.objects.filter(owner=person).count() == before
        return
    assert response.status_code == 302, value
    board = Board.objects.filter(owner=person).latest("pk")
    assert (board.name, board.description) == (trimmed, trimmed)
    page = client.get(response.url).content.decode()
    assert f"<h1>{escape(trimmed)}" in page, value
    assert f"<p>{escape(trimmed)}</p>" in page, value
    if "<" in value:
        assert trimmed not in page, value


@sampled
@always
@given(value=naughty)
def test_profile_text_is_stored_verbatim_or_refused_and_drawn_escaped(board_maker, value):
    client, person = board_maker
    response = client.post("/accounts/profile/", {"display_name": value, "bio": value})
    expected = {
        name
        for name, limit in (("display_name", 80), ("bio", 500))
        if refused_because(value, limit)
    }
    if expected:
        assert response.status_code == 200, value
        assert set(response.context["form"].errors) == expected, value
        return
    assert response.status_code == 302, value
    profile = Profile.objects.get(user=person)
    assert (profile.display_name, profile.bio) == (value.strip(), value.strip())
    if value.strip():
        page = client.get(response.url).content.decode()
        assert f"<h1>{escape(value.strip())}</h1>" in page, value
        assert f"<p>{escape(value.strip())}</p>" in page, value


@pytest.fixture
def reporter(client):
    owner = make_user()
    pin = make_pin(owner, make_board(owner), media_asset=make_ready_asset(owner))
    person = make_user()
    client.force_login(person)
    return client, pin, person


@sampled
@always
@given(value=naughty)
def test_a_report_never_fails_and_keeps_its_detail_verbatim(reporter, value):
    client, pin, person = reporter
    assert client.post(f"/pin/{pin.pk}/report/", {"reason": value}).status_code == 302
    response = client.post(f"/pin/{pin.pk}/report/", {"reason": "spam", "detail": value})
    assert response.status_code == 302, value
    report = PinReport.objects.get(pin=pin, reporter=person)
    if not refused_because(value, 1000):
        assert report.detail == value.strip(), value


@pytest.fixture
def reader(client):
    person = make_user()
    board = make_board(person)
    make_pin(person, board, media_asset=make_ready_asset(person), title="tea")
    client.force_login(person)
    return client, person, board


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@always
@given(value=naughty)
def test_query_values_and_names_in_paths_never_fail(reader, value):
    """Search words, cursors, ids and the names in paths: a page, a 400 or a 404; never a 500."""
    client, person, board = reader
    name = quote(value, safe="")
    answers = {
        "search": client.get("/search/", {"q": value}),
        "search cursor": client.get("/search/", {"q": "tea", "cursor": value}),
        "home cursor": client.get("/", {"cursor": value}),
        "board": client.get(board.get_absolute_url(), {"cursor": value, "partial": value}),
        "profile": client.get(f"/people/{person.username}/", {"cursor": value, "boards": value}),
        "status": client.get("/pin/status/", {"ids": value}),
        "new": client.get("/pin/new/", {"board": value}),
        "person path": client.get(f"/people/{name}/"),
        "board path": client.get(f"/boards/{name}/{name}/"),
    }
    for where, response in answers.items():
        assert response.status_code in (200, 400, 404), (where, value, response.status_code)
    query = value.strip()[:200]
    if "<" in query:
        assert query not in answers["search"].content.decode(), value
