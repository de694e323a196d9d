"""Every route, from the URL resolver, for every kind of visitor, on secret and on others' content.

The sweep walks ``get_resolver().url_patterns``, so a new view is swept as soon as it has a URL.
For each route it needs two small tables:

* ``FILL``: how to fill each path argument by name (a pin, a board, a person, or a value that
  names nothing); a route with an argument not in it fails the sweep, named;
* ``POLICY``: who may use the route on which content, and what query or body asks for the
  action (save to my board, report, delete, rename, invite, reorder, follow, publish onto the
  board). A route missing from it fails the sweep, named: nobody adds a route silently.

Visitors: anonymous, another person, a collaborator of the owner's boards, the owner, staff
(staff have no say over people's boards and secret pins on the site; the admin is theirs).
Content: the owner's secret board and a pin on it, the owner's public board and a pin on it.

Where a visitor is not allowed, no row may change; and where they cannot even see the content
(a secret board they are not on), GET and POST must answer exactly as they do for content that
does not exist (same status, same page or redirect: a secret object's existence does not show). Where allowed, the owner's pages must really show the content (so a 404 for the
others means something). Routes without content (home, search, sign-up, ...) must never answer
500 to any visitor, by GET or POST.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.models import Profile, User, UserFollow
from accounts.tests.factories import make_user
from boards.models import Board, BoardCollaborator, BoardFollow, BoardPin
from boards.services import board_collaborator_add
from boards.tests.factories import make_board
from media.models import MediaAsset
from media.tests.factories import make_ready_asset
from pins.models import Pin, PinReport
from pins.tests.factories import make_pin

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "other", "collaborator", "owner", "staff")
SIGNED_IN = frozenset(ROLES) - {"anonymous"}
MEMBERS = frozenset({"owner", "collaborator"})
OWNER = frozenset({"owner"})
EVERYONE = frozenset(ROLES)
MISSING_ID = 2**62

# Namespaces the sweep leaves to their own tests, with the reason.
EXCLUDED_NAMESPACES = {
    "admin": "staff only, by the admin site's own login; covered by pinsite/tests/test_admin.py",
}


@dataclass
class World:
    people: dict[str, User]  # the signed-in visitors by role (anonymous has none)
    boards: dict[str, Board]  # "secret", "public"
    pins: dict[str, Pin]
    own_boards: dict[str, Board]  # each signed-in visitor's own board (to save onto)
    own_assets: dict[str, MediaAsset]  # each signed-in visitor's own upload (to publish)


@dataclass(frozen=True)
class Rule:
    """Who may use a route on secret and on public content, and how to ask for the action."""

    secret: frozenset[str]
    public: frozenset[str]
    methods: tuple[str, ...] = ("GET", "POST")
    # (world, target kind or "missing", visitor) -> query (GET) or body (POST)
    data: Callable[[World, str, str], dict] = field(default=lambda world, target, role: {})
    # Routes without a path argument that still point at content through their data.
    content_in_data: bool = False


def _pin_of(world: World, target: str) -> int:
    return MISSING_ID if target == "missing" else world.pins[target].pk


def _board_of(world: World, target: str) -> int:
    return MISSING_ID if target == "missing" else world.boards[target].pk


def _save_body(world, target, role):
    own = world.own_boards.get(role)
    return {"board": own.pk if own else ""}


def _publish_body(world, target, role):
    asset = world.own_assets.get(role)
    return {"asset": asset.pk if asset else 1, "board": _board_of(world, target), "title": "x"}


def _reorder_body(world, target, role):
    return {"pin": _pin_of(world, target), "before": ""}


POLICY: dict[str, Rule] = {
    # Pins
    "pins:detail": Rule(secret=MEMBERS, public=EVERYONE),
    "pins:save": Rule(secret=MEMBERS, public=frozenset(SIGNED_IN), data=_save_body),
    "pins:report": Rule(
        secret=MEMBERS, public=frozenset(SIGNED_IN), data=lambda w, t, r: {"reason": "spam"}
    ),
    "pins:delete": Rule(secret=OWNER, public=OWNER),
    "pins:status": Rule(
        secret=MEMBERS,
        public=EVERYONE,
        methods=("GET",),
        data=lambda w, t, r: {"ids": str(_pin_of(w, t))},
        content_in_data=True,
    ),
    "pins:new": Rule(
        secret=MEMBERS,
        public=MEMBERS,
        methods=("GET",),
        data=lambda w, t, r: {"board": str(_board_of(w, t))},
        content_in_data=True,
    ),
    "pins:publish": Rule(
        secret=MEMBERS, public=MEMBERS, methods=("POST",), data=_publish_body, content_in_data=True
    ),
    # Boards
    "boards:detail": Rule(secret=MEMBERS, public=EVERYONE),
    "boards:edit": Rule(
        secret=OWNER,
        public=OWNER,
        data=lambda w, t, r: {"name": "Taken over", "description": "", "is_secret": ""},
    ),
    "boards:delete": Rule(secret=OWNER, public=OWNER),
    "boards:follow": Rule(secret=MEMBERS, public=frozenset(SIGNED_IN)),
    "boards:members": Rule(
        secret=OWNER, public=OWNER, data=lambda w, t, r: {"username": w.people["staff"].username}
    ),
    "boards:reorder": Rule(secret=MEMBERS, public=MEMBERS, data=_reorder_body),
    # People are public; following one is anyone's who is signed in.
    "accounts:profile": Rule(secret=EVERYONE, public=EVERYONE),
    "accounts:follow": Rule(secret=frozenset(SIGNED_IN), public=frozenset(SIGNED_IN)),
    "accounts:password_reset_confirm": Rule(secret=EVERYONE, public=EVERYONE),
    # Local media files: only through a URL a page signed, so a bare key is no one's.
    "media:file": Rule(secret=frozenset(), public=frozenset(), methods=("GET",)),
}
# Routes about no one's content: any visitor, GET and POST, never a 500.
OPEN_ROUTES = {
    "pins:home",
    "pins:search",
    "media:upload",
    "media:upload_start",
    "media:upload_confirm",
    "boards:create",
    "accounts:signup",
    "accounts:login",
    "accounts:logout",
    "accounts:password_reset",
    "accounts:password_reset_done",
    "accounts:password_reset_complete",
    "accounts:profile_edit",
    "healthz",
    "healthz-replicas",
    "metrics",
}

# How to fill each path argument: (world, target kind or "missing") -> value.
FILL: dict[str, Callable[[World, str], object]] = {
    "pk": _pin_of,
    "username": lambda w, t: w.people["owner"].username if t != "missing" else "nobody-here",
    "slug": lambda w, t: "no-such-board" if t == "missing" else w.boards[t].slug,
    "uidb64": lambda w, t: "MQ",
    "token": lambda w, t: "set-password" if t != "missing" else "not-a-token",
    "key": lambda w, t: (
        "originals/0000/00/none.jpg" if t == "missing" else w.pins[t].media.original_key
    ),
}


@dataclass(frozen=True)
class Route:
    name: str
    arguments: tuple[str, ...]


def _routes(patterns=None, namespace: str = "") -> Iterator[Route]:
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            inner = entry.namespace or ""
            if inner in EXCLUDED_NAMESPACES:
                continue
            full = f"{namespace}:{inner}".strip(":") if inner else namespace
            yield from _routes(entry.url_patterns, full)
        elif isinstance(entry, URLPattern):
            assert entry.name, f"the route {entry.pattern} has no name: the sweep names routes"
            name = f"{namespace}:{entry.name}" if namespace else entry.name
            converters = getattr(entry.pattern, "converters", {})
            yield Route(name, tuple(converters))


def _snapshot() -> tuple:
    """Every row a visitor could change through these routes, as plain values."""
    return (
        list(Pin.objects.order_by("pk").values_list("pk", "title", "moderation_state")),
        list(Board.objects.order_by("pk").values_list("pk", "name", "slug", "is_secret")),
        list(BoardPin.objects.order_by("pk").values_list("pk", "board_id", "pin_id", "position")),
        list(BoardCollaborator.objects.order_by("pk").values_list("board_id", "user_id")),
        list(BoardFollow.objects.order_by("pk").values_list("board_id", "follower_id")),
        list(UserFollow.objects.order_by("pk").values_list("follower_id", "followee_id")),
        list(PinReport.objects.order_by("pk").values_list("pin_id", "reporter_id", "reason")),
        list(MediaAsset.objects.order_by("pk").values_list("pk", "status")),
        list(Profile.objects.order_by("pk").values_list("pk", "display_name")),
    )


_TOKENS = re.compile(r'(content|value)="[A-Za-z0-9]{64}"')


def _answer(response) -> tuple:
    """What a visitor can tell from a response: status, where it sends them, the page."""
    # The log-in redirect carries the address asked for, which names the object either way.
    location = re.sub(r"\?next=.*", "?next=(the address asked for)", response.get("Location", ""))
    page = _TOKENS.sub("", response.content.decode(errors="replace"))
    page = re.sub(r"\?next=[^\"]*", "?next=(the address asked for)", page)
    # And the words a redirect leaves for the next page ("Choose one of your boards.").
    notes = [str(message) for message in get_messages(response.wsgi_request)]
    return (response.status_code, location, page, notes)


@pytest.fixture
def world(settings) -> World:
    settings.RATE_LIMITS_ENABLED = False
    people = {role: make_user(f"sweep-{role}") for role in sorted(SIGNED_IN)}
    staff = people["staff"]
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    owner = people["owner"]
    boards = {
        "secret": make_board(owner, "Secret plans", is_secret=True),
        "public": make_board(owner, "Open ideas"),
    }
    pins = {
        kind: make_pin(owner, board, media_asset=make_ready_asset(owner), title=f"{kind} pin")
        for kind, board in boards.items()
    }
    for board in boards.values():
        board_collaborator_add(board=board, user=people["collaborator"], invited_by=owner)
    own_boards = {role: make_board(person, f"{role} own") for role, person in people.items()}
    own_assets = {role: make_ready_asset(person) for role, person in people.items()}
    return World(people, boards, pins, own_boards, own_assets)


def _request(world: World, role: str, method: str, url: str, data: dict):
    client = Client()
    user = world.people.get(role)
    if user is not None:
        client.force_login(user)
    return client.get(url, data) if method == "GET" else client.post(url, data)


def test_every_route_is_in_the_sweeps_tables():
    unknown = [
        route.name
        for route in _routes()
        if route.name not in POLICY and route.name not in OPEN_ROUTES
    ]
    assert not unknown, (
        f"routes the access sweep does not know: {unknown}; add each to POLICY (who may use it on "
        "secret and on others' content) or OPEN_ROUTES in pinsite/tests/test_access_sweep.py"
    )
    unfillable = [
        (route.name, argument)
        for route in _routes()
        for argument in route.arguments
        if argument not in FILL
    ]
    assert not unfillable, (
        f"path arguments the access sweep cannot fill: {unfillable}; add them to FILL in "
        "pinsite/tests/test_access_sweep.py"
    )
    stale = (set(POLICY) | OPEN_ROUTES) - {route.name for route in _routes()}
    assert not stale, f"the sweep's tables name routes that no longer exist: {stale}"


def test_no_visitor_can_see_or_change_what_is_not_theirs(world):
    refused = 0
    for route in _routes():
        rule = POLICY.get(route.name)
        if rule is None:
            continue
        for target in ("secret", "public"):
            allowed = rule.secret if target == "secret" else rule.public
            for method in rule.methods:
                for role in ROLES:
                    url = reverse(
                        route.name, kwargs={a: FILL[a](world, target) for a in route.arguments}
                    )
                    data = rule.data(world, target, role)
                    if role in allowed:
                        if method == "GET":
                            response = _request(world, role, method, url, data)
                            assert response.status_code < 500, (route.name, target, role)
                            assert response.status_code != 404 or not route.arguments, (
                                f"{role} may use {route.name} on {target} content but got 404"
                            )
                        continue
                    before = _snapshot()
                    response = _request(world, role, method, url, data)
                    assert _snapshot() == before, f"{role} changed rows by {method} {url}"
                    sees = role in (MEMBERS if target == "secret" else EVERYONE)
                    if sees and role != "anonymous":
                        # They may see it, not do this: a refusal, in words or a 404.
                        refusals = (302, 400, 403, 404, 405) + ((200,) if method == "GET" else ())
                        assert response.status_code in refusals, (route.name, role, target)
                    else:
                        missing_url = reverse(
                            route.name,
                            kwargs={a: FILL[a](world, "missing") for a in route.arguments},
                        )
                        missing = _request(
                            world, role, method, missing_url, rule.data(world, "missing", role)
                        )
                        assert _answer(response) == _answer(missing), (
                            f"{method} {route.name} by {role} on {target} content answers "
                            f"{response.status_code}, unlike the same for nothing "
                            f"({missing.status_code})"
                        )
                    refused += 1
    assert refused > 100  # the sweep really refused things (its tables did not empty it)


def test_the_owner_sees_the_secret_content_the_others_cannot(world):
    for kind in ("secret", "public"):
        for url in (world.pins[kind].get_absolute_url(), world.boards[kind].get_absolute_url()):
            assert _request(world, "owner", "GET", url, {}).status_code == 200
            assert _request(world, "collaborator", "GET", url, {}).status_code == 200
    secret_pin = world.pins["secret"].get_absolute_url()
    for role in ("anonymous", "other", "staff"):
        assert _request(world, role, "GET", secret_pin, {}).status_code == 404


def test_routes_about_no_ones_content_never_fail(world):
    for route in _routes():
        if route.name not in OPEN_ROUTES:
            continue
        url = reverse(route.name)
        for role in ROLES:
            for method in ("GET", "POST"):
                response = _request(world, role, method, url, {})
                assert response.status_code < 500, (method, route.name, role)
