"""The site in a real browser: Debian's Chromium (headless) driven by Playwright.

The pages are served by pytest-django's live_server on the session's PostgreSQL; thumbnails are
made by a real Celery worker process over the session's Redis, and images come from the S3 server
(moto) through presigned URLs, as in production. Each step leaves a screenshot under
var/test-artifacts/browser/<test>/.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from playwright.sync_api import Page, expect

from accounts.services import user_create
from boards.services import board_create
from media import services as media_services
from media.models import MediaAsset
from pins import services

REPO = Path(__file__).resolve().parents[2]
PHOTOS = REPO / "demo" / "photos"
PASSWORD = "harbour-tulip-lantern"
THUMBNAIL_TIMEOUT_MS = 60_000

# The live server reads the replicas as production does (pinsite/db/router.py), so they are allowed.
pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


class Steps:
    """Numbered full-page screenshots of one test's steps."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    def shot(self, page: Page, name: str) -> None:
        self.count += 1
        page.evaluate("window.scrollTo(0, 0)")  # else the sticky header is drawn mid-page
        page.screenshot(path=self.folder / f"{self.count:02d}-{name}.png", full_page=True)


def sign_up(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/signup/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Email").fill(f"{username}@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text(f"Welcome to pinsite, {username}.")).to_be_visible()


def create_board(page: Page, base: str, name: str, *, secret: bool) -> str:
    page.goto(f"{base}/boards/new/")
    page.get_by_label("Name").fill(name)
    if secret:
        page.get_by_label("Keep this board secret").check()
    page.get_by_role("button", name="Create board").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)
    return page.url


def search(page: Page, words: str) -> None:
    box = page.get_by_role("searchbox", name="Search pins and boards")
    box.fill(words)
    box.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Results for “{words}”")


def card(page: Page, pin_id: str):
    return page.locator(f'.card[data-pin="{pin_id}"]')


def expect_image_loaded(img) -> None:
    """The <img> is shown and its bytes arrived (naturalWidth is 0 for a broken image)."""
    expect(img).to_be_visible()
    img.evaluate("i => i.complete || new Promise(r => i.addEventListener('load', r, {once: true}))")
    assert img.evaluate("i => i.naturalWidth") > 0, img.get_attribute("src")


def serious_axe_violations(page: Page) -> list[str]:
    # No preload: axe would re-parse imported stylesheets as inline <style> elements, which the
    # site's Content-Security-Policy refuses (and the browser logs as errors).
    results = Axe().run(page, options={"resultTypes": ["violations"], "preload": False})
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + "; ".join(" ".join(node["target"]) for node in v["nodes"][:5])
        for v in results.response["violations"]
        if v["impact"] in {"serious", "critical"}
    ]


def assert_no_serious_axe_violations(found: dict[str, list[str]]) -> None:
    """``found``: each page's serious_axe_violations, by name."""
    problems = {name: violations for name, violations in found.items() if violations}
    assert problems == {}, "axe-core serious/critical violations:\n" + "\n".join(
        f"{name}: {v}" for name, violations in problems.items() for v in violations
    )


def log_in(page: Page, url: str, username: str) -> None:
    page.goto(url)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def unexpected_errors(page: Page, expected_404: tuple[str, ...] = ()) -> list[str]:
    """Script errors and console errors, less the 404s we asked for (the browser logs them)."""
    allowed = expected_404
    errors: list[str] = page.errors  # type: ignore[attr-defined]  # set by the fixture (conftest)
    return [error for error in errors if not ("status of 404" in error and error.endswith(allowed))]


def test_sign_up_upload_publish_save_search_follow_and_privacy(
    live_server, celery_worker_process, new_page, artifacts
):
    _process, worker_log = celery_worker_process
    base = live_server.url
    steps = Steps(artifacts)

    # --- ada signs up and makes a secret board and a public one ------------------------------
    ada = new_page()
    sign_up(ada, base, "ada")
    steps.shot(ada, "ada-signed-up")
    secret_board_url = create_board(ada, base, "Secret plans", secret=True)
    expect(ada.locator("h1 .badge")).to_have_text("Secret")
    steps.shot(ada, "secret-board")
    public_board_url = create_board(ada, base, "Lake walks", secret=False)
    steps.shot(ada, "public-board")

    # --- two real photographs go up, each with its own progress bar ---------------------------
    ada.goto(f"{base}/pin/new/")
    posts: list[str] = []
    ada.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    ada.locator("input[type=file]").set_input_files(
        [PHOTOS / "ColdRipple.jpg", PHOTOS / "Kite.jpg"]
    )
    items = ada.locator(".upload-item")
    expect(items).to_have_count(2)
    expect(items.locator(".upload-name")).to_have_text(["ColdRipple.jpg", "Kite.jpg"])
    for item in items.all():
        expect(item.locator("progress")).to_have_js_property("value", 100)
        expect(item.locator(".upload-state")).to_contain_text("Uploaded.")
        expect(item.get_by_label("Title")).to_be_visible()
    steps.shot(ada, "uploaded")
    # The bytes went straight to the S3 server; the app only started and confirmed each upload.
    s3_endpoint = settings.S3_ENDPOINT_URL
    assert sum(url.startswith(s3_endpoint) for url in posts) == 2, posts
    assert sum(url.endswith("/pin/upload/confirm/") for url in posts) == 2, posts
    assert not any(url.endswith("/pin/upload/") for url in posts), posts

    # Each is published to its own board (the page's board menu is read at publish time).
    board_menu = ada.get_by_label("Board", exact=True)
    ada.evaluate("window.pinsiteSamePage = true")  # gone if anything reloads the page
    published = {}
    for item, board, title, alt in [
        (items.nth(0), "Secret plans · secret", "Cold ripple at midnight", "Dark water rippling"),
        (items.nth(1), "Lake walks", "Kite over the dunes", "A rainbow kite in a blue sky"),
    ]:
        board_menu.select_option(label=board)
        item.get_by_label("Title").fill(title)
        item.get_by_label("Alt text").fill(alt)
        item.get_by_role("button", name="Publish", exact=True).click()
        link = item.locator("a.upload-published")
        expect(link).to_have_attribute("data-pending", "1")
        expect(item.locator(".upload-state")).to_have_text("Published.")
        published[title] = link
    expect(ada.get_by_role("button", name="Publish all")).to_be_hidden()  # nothing left to publish
    steps.shot(ada, "published-preparing")

    # The worker makes the thumbnails; the page polls and swaps them in without a reload.
    for title, link in published.items():
        img = link.locator("img")
        expect(img).to_be_visible(timeout=THUMBNAIL_TIMEOUT_MS)
        assert link.get_attribute("data-pending") is None, title
        expect_image_loaded(img)
        assert "X-Amz-Signature=" in img.get_attribute("src")  # presigned, from the S3 server
    assert ada.evaluate("window.pinsiteSamePage") is True
    assert "Traceback" not in worker_log.read_text()
    steps.shot(ada, "published-thumbnails")

    secret_href = published["Cold ripple at midnight"].get_attribute("href")
    public_href = published["Kite over the dunes"].get_attribute("href")
    secret_id = published["Cold ripple at midnight"].get_attribute("data-pin")
    public_id = published["Kite over the dunes"].get_attribute("data-pin")
    assert re.fullmatch(r"/pin/\d+/", secret_href) and re.fullmatch(r"/pin/\d+/", public_href)

    # --- the boards show their pins -----------------------------------------------------------
    ada.goto(public_board_url)
    expect(card(ada, public_id)).to_be_visible()
    expect(card(ada, secret_id)).to_have_count(0)
    expect_image_loaded(card(ada, public_id).locator("img"))
    steps.shot(ada, "public-board-with-pin")

    # --- ada saves her public pin to her secret board from the pin page ---------------------
    ada.goto(f"{base}{public_href}")
    expect(ada.get_by_role("heading", level=1)).to_have_text("Kite over the dunes")
    expect_image_loaded(ada.locator(".pin-image img"))
    save_form = ada.locator("form.save-form")
    save_form.locator("select[name=board]").select_option(label="Secret plans")
    save_form.get_by_role("button", name="Save", exact=True).click()
    expect(ada.get_by_text("Saved to “Secret plans”.")).to_be_visible()
    match = re.search(r"/pin/(\d+)/$", ada.url)
    assert match and match.group(1) != public_id, ada.url
    secret_copy_href = f"/pin/{match.group(1)}/"
    steps.shot(ada, "saved-to-secret-board")

    ada.goto(secret_board_url)
    expect(ada.locator(".card")).to_have_count(2)  # the secret pin and the saved copy
    steps.shot(ada, "secret-board-with-pins")

    # --- the header search finds it (ada sees her public pin and its secret copy) -------------
    search(ada, "kite")
    expect(card(ada, public_id)).to_be_visible()
    expect(ada.locator(".card")).to_have_count(2)
    steps.shot(ada, "ada-search")
    # ...and her secret pin and board, which the same searches must not show grace below.
    search(ada, "ripple")
    expect(card(ada, secret_id)).to_be_visible()
    search(ada, "secret plans")
    expect(ada.locator(".board-list")).to_contain_text("Secret plans")
    expect(ada.locator(".card")).to_have_count(2)

    # --- grace signs up, follows ada and sees her public pin in the home feed ----------------
    grace = new_page()
    sign_up(grace, base, "grace")
    grace.goto(f"{base}/people/ada/")
    steps.shot(grace, "ada-profile-before-follow")
    grace.get_by_role("button", name="Follow", exact=True).click()
    expect(grace.get_by_role("button", name="Unfollow")).to_be_visible()
    expect(grace.get_by_text("1 follower")).to_be_visible()
    # Ada's profile shows grace only the public board and the public pin.
    expect(grace.locator(".board-list")).to_contain_text("Lake walks")
    expect(grace.locator(".board-list")).not_to_contain_text("Secret plans")
    expect(grace.locator(".card")).to_have_count(1)
    expect(card(grace, public_id)).to_be_visible()
    steps.shot(grace, "followed-ada")

    grace.goto(f"{base}/")
    expect(card(grace, public_id)).to_be_visible()
    expect_image_loaded(card(grace, public_id).locator("img"))
    expect(grace.get_by_text("Follow people and boards to fill your feed")).to_have_count(0)
    expect(grace.locator(".card")).to_have_count(1)  # neither the secret pin nor its copy
    steps.shot(grace, "grace-feed")

    # --- the secret pins do not exist for grace ----------------------------------------------
    for href in (secret_href, secret_copy_href):
        response = grace.goto(f"{base}{href}")
        assert response is not None and response.status == 404, href
        expect(grace.get_by_role("heading", name="Nothing here")).to_be_visible()
    response = grace.goto(secret_board_url)
    assert response is not None and response.status == 404
    steps.shot(grace, "secret-pin-404")

    search(grace, "ripple")
    expect(grace.locator(".card")).to_have_count(0)
    expect(grace.get_by_text("No pins match every word.")).to_be_visible()
    steps.shot(grace, "grace-search-secret")
    search(grace, "kite")
    expect(grace.locator(".card")).to_have_count(1)
    expect(card(grace, public_id)).to_be_visible()
    search(grace, "secret plans")
    expect(grace.locator(".card")).to_have_count(0)
    expect(grace.locator(".board-list")).to_have_count(0)
    steps.shot(grace, "grace-search-public")

    # --- grace keeps ada's pin on a board of her own, made from the save form ------------------
    grace.goto(f"{base}{public_href}")
    grace.locator("form.save-form").get_by_label("Or a new board").fill("Borrowed skies")
    grace.locator("form.save-form").get_by_role("button", name="Save", exact=True).click()
    expect(grace.get_by_text("Saved to “Borrowed skies”.")).to_be_visible()
    expect(grace.get_by_text("saved from")).to_contain_text("ada\u2019s pin")
    steps.shot(grace, "grace-saved")

    assert unexpected_errors(ada) == []
    hidden = (secret_href, secret_copy_href, secret_board_url.removeprefix(base))
    assert unexpected_errors(grace, expected_404=hidden) == []


def _ready_pin(owner, board, photo: str, title: str):
    """A pin whose image the real worker has processed."""
    asset = media_services.media_asset_create(owner=owner, data=(PHOTOS / photo).read_bytes())
    pin = services.pin_publish(
        owner=owner, media_asset=asset, board=board, title=title, alt_text=f"Photograph: {title}"
    )
    deadline = time.monotonic() + THUMBNAIL_TIMEOUT_MS / 1000
    while MediaAsset.objects.get(pk=asset.pk).status != MediaAsset.Status.READY:
        assert time.monotonic() < deadline, f"{photo} was not processed"
        time.sleep(0.2)
    return pin


def test_pages_have_no_serious_accessibility_problems_and_fit_a_phone(
    live_server, celery_worker_process, new_page, artifacts
):
    base = live_server.url
    steps = Steps(artifacts)
    owner = user_create(username="lin", password=PASSWORD, email="lin@example.com")
    board = board_create(owner=owner, name="Quiet places")
    pins = [
        _ready_pin(owner, board, photo, title)
        for photo, title in [
            ("BytheWater.jpg", "By the water"),
            ("LadyBird.jpg", "Ladybird on a leaf"),
            ("Path.jpg", "A path through the woods"),
        ]
    ]

    page = new_page()
    log_in(page, f"{base}/accounts/login/", "lin")
    expect(page.get_by_role("link", name="Create pin")).to_be_visible()

    def upload_page_with_an_upload() -> None:
        page.goto(f"{base}/pin/new/")
        page.locator("input[type=file]").set_input_files(PHOTOS / "Storm.jpg")
        expect(page.locator(".upload-item progress")).to_have_js_property("value", 100)
        expect(page.locator(".upload-item").get_by_label("Title")).to_be_visible()

    found = {}
    for name, visit in [
        ("home", lambda: page.goto(f"{base}/")),
        ("pin", lambda: page.goto(f"{base}{pins[0].get_absolute_url()}")),
        ("board", lambda: page.goto(f"{base}{board.get_absolute_url()}")),
        ("upload", lambda: page.goto(f"{base}/pin/new/")),
        ("upload-in-progress", upload_page_with_an_upload),
    ]:
        visit()
        page.wait_for_load_state("load")
        steps.shot(page, f"axe-{name}")
        found[name] = serious_axe_violations(page)
    assert_no_serious_axe_violations(found)

    # On a phone nothing is wider than the screen.
    phone = new_page({"width": 390, "height": 844})
    phone.context.add_cookies(page.context.cookies())
    for name, path in [("home", "/"), ("pin", pins[1].get_absolute_url()), ("upload", "/pin/new/")]:
        phone.goto(f"{base}{path}")
        phone.wait_for_load_state("load")
        steps.shot(phone, f"phone-{name}")
        widths = phone.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], f"{name} overflows a 390 px screen: {widths}"
    assert unexpected_errors(page) == []
    assert unexpected_errors(phone) == []


def test_the_staff_storage_dashboard_reads_well(live_server, new_page, artifacts):
    """The storage dashboard, its dry-run preview and a refused policy form: no serious axe
    violations, and the chart is an image with a name."""
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from media.tests.factories import make_asset
    from tiering.models import StorageSnapshot, TieringSweep

    base = live_server.url
    steps = Steps(artifacts)
    staff = user_create(username="keeper", password=PASSWORD, email="keeper@example.com")
    staff.is_staff = staff.is_superuser = True
    staff.save()
    idle = timezone.now() - timedelta(days=120)
    for size in (4, 8):
        make_asset(byte_size=size * 1024**2, last_accessed_at=idle, tier_changed_at=idle)
    for days_ago in range(3):
        StorageSnapshot.objects.create(
            day=timezone.localdate() - timedelta(days=days_ago),
            monthly_cost=Decimal("1.5") + days_ago,
            monthly_cost_all_standard=Decimal("4"),
            monthly_cost_intelligent=Decimal("2.25"),
        )
    TieringSweep.objects.create(mode="app", status="done", finished_at=timezone.now(), moved=3)

    page = new_page()
    log_in(page, f"{base}/admin/login/?next=/admin/tiering/storage/", "keeper")
    expect(page.get_by_role("heading", name="Storage tiers and costs")).to_be_visible()
    expect(page.get_by_role("img", name="Monthly bill by day")).to_be_visible()
    found = {}
    steps.shot(page, "dashboard")
    found["dashboard"] = serious_axe_violations(page)

    page.get_by_role("button", name="Preview the next sweep (dry run)").click()
    expect(page.get_by_text("The first 2 planned move(s).")).to_be_visible()
    steps.shot(page, "dry-run")
    found["dry-run"] = serious_axe_violations(page)

    page.get_by_label("Horizon days").fill("10")
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_text("horizon_days must be between 30 and 3650")).to_be_visible()
    steps.shot(page, "policy-refused")
    found["policy-refused"] = serious_axe_violations(page)
    assert_no_serious_axe_violations(found)
    # axe-core's stylesheet preload resolves the admin forms.css's relative @import against the
    # page, asking for <page>/widgets.css; the browser itself loads /static/admin/css/widgets.css.
    assert unexpected_errors(page, expected_404=("/admin/tiering/storage/widgets.css",)) == []
