"""The site's pages under its Content-Security-Policy, in Chromium: nothing refused, all works."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from accounts.services import user_create
from boards.services import board_create
from media import services as media_services
from pins import services

PHOTOS = Path(__file__).resolve().parents[2] / "demo" / "photos"
PASSWORD = "harbour-tulip-lantern"

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

# Injected by the browser driver before any page script (not subject to the page's policy).
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


def _processed_pin(owner, board, photo: str, title: str):
    asset = media_services.media_asset_create(owner=owner, data=(PHOTOS / photo).read_bytes())
    media_services.media_asset_process(asset_id=asset.pk)  # inline: no worker needed here
    return services.pin_publish(
        owner=owner, media_asset=asset, board=board, title=title, alt_text=f"Photograph: {title}"
    )


def test_pages_work_under_the_policy_and_nothing_is_refused(live_server, new_page):
    base = live_server.url
    owner = user_create(username="noor", password=PASSWORD, email="noor@example.com")
    board = board_create(owner=owner, name="Harbours")
    pin = _processed_pin(owner, board, "BytheWater.jpg", "By the water")
    _processed_pin(owner, board, "Path.jpg", "A path")

    page = new_page()
    page.context.add_init_script(RECORD_VIOLATIONS)
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill("noor")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="Create pin")).to_be_visible()

    for path in ["/", pin.get_absolute_url(), board.get_absolute_url(), "/pin/new/", "/admin/"]:
        response = page.goto(f"{base}{path}")
        assert response is not None and response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"], path
        page.wait_for_load_state("load")
        images = page.locator("img[src*='grid-'], .pin-image img")
        for index in range(images.count()):
            image = images.nth(index)
            image.evaluate(
                "i => i.complete || new Promise(r => i.addEventListener('load', r, {once: true}))"
            )
            assert image.evaluate("i => i.naturalWidth") > 0, (path, image.get_attribute("src"))
        assert page.evaluate("window.__cspViolations") == [], path

    # The site's own script runs under the policy: the save menu opens on the pin page.
    page.goto(f"{base}{pin.get_absolute_url()}")
    page.locator("form.save-form").get_by_label("Or a new board").fill("Kept")
    page.locator("form.save-form").get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Saved to “Kept”.")).to_be_visible()
    assert page.evaluate("window.__cspViolations") == []
    errors = page.errors  # set by the fixture (conftest)
    assert errors == []
