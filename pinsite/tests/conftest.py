"""Browser fixtures: Debian's Chromium driven by Playwright, screenshots under var/test-artifacts.

Chromium is /usr/bin/chromium from the Debian package (installed here with apt when missing and we
are root); Playwright never downloads a browser. Without it the browser tests are skipped with the
reason, except with CI=true, where they fail.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from stack import StackError
from stack.pytest_plugin import in_ci
from stack.stack import chromium_ensure

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "var" / "test-artifacts" / "browser"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 900}


def browser_unavailable(reason: str) -> NoReturn:
    """Fail in CI (every test must run there), skip elsewhere; like require_stack()."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: browser tests may not be skipped)", pytrace=False)
    pytest.skip(reason)
    raise AssertionError("unreachable: pytest.skip raises")  # for type checkers without pytest


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    try:
        return chromium_ensure()
    except StackError as error:
        browser_unavailable(f"needs Chromium: {error}")


@pytest.fixture(scope="module")
def browser(chromium_path: Path):
    """One headless Chromium for the module's tests."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch:
        # Playwright's sync API keeps an asyncio loop on this thread, and Django refuses ORM calls
        # (the test database flush included) where a loop runs. Nothing here is really async.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            try:
                chromium = playwright.chromium.launch(
                    executable_path=str(chromium_path), args=CHROMIUM_ARGS, headless=True
                )
            except PlaywrightError as error:
                browser_unavailable(f"Chromium at {chromium_path} did not start: {error}")
            try:
                yield chromium
            finally:
                chromium.close()


@pytest.fixture
def artifacts(request) -> Path:
    """This test's screenshot folder, emptied first: var/test-artifacts/browser/<test name>/."""
    folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def new_page(browser) -> Iterator[Callable]:
    """Make a page in a fresh browser context (its own cookies: one per person).

    Uncaught script errors and console errors are collected on ``page.errors``.
    """
    contexts = []

    def make(viewport: dict | None = None):
        context = browser.new_context(viewport=viewport or DESKTOP)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(f"uncaught: {error}"))
        page.on(
            "console",
            lambda message: (
                message.type == "error"
                and page.errors.append(f"console: {message.text} at {message.location.get('url')}")
            ),
        )
        return page

    yield make
    for context in contexts:
        context.close()
