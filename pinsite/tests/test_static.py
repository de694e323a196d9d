"""Static files as production serves them, and what pages ask the browser to fetch.

The production storage runs for real: ``collectstatic`` into a temporary STATIC_ROOT with
``CompressedManifestStaticFilesStorage`` (hashed names, gzip and brotli copies), then requests go
through the site's middleware as a browser would send them.
"""

from __future__ import annotations

import gzip
import re
from html.parser import HTMLParser
from pathlib import Path

import brotli
import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.test import Client

from accounts.tests.factories import make_user
from boards.tests.factories import make_board
from media.tests.factories import make_ready_asset
from pins.tests.factories import make_pin

pytestmark = pytest.mark.django_db
SOURCE = Path(django_settings.BASE_DIR) / "static"
ONE_YEAR = "public, max-age=31536000, immutable"


@pytest.fixture
def collected(settings, tmp_path) -> Client:
    """A client of the site with production's static storage, after collectstatic."""
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    call_command("collectstatic", interactive=False, verbosity=0)
    return Client()  # a new client loads the middleware, which indexes STATIC_ROOT


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_hashed_static_files_come_compressed_and_cached_for_a_year(collected):
    html = collected.get("/").content.decode()
    match = re.search(r'href="(/static/css/site\.[0-9a-f]{12}\.css)"', html)
    assert match is not None
    css = match.group(1)
    match = re.search(r'src="(/static/js/site\.[0-9a-f]{12}\.js)"', html)
    assert match is not None
    js = match.group(1)
    for url, source in ((css, SOURCE / "css/site.css"), (js, SOURCE / "js/site.js")):
        original = source.read_bytes()
        br = collected.get(url, HTTP_ACCEPT_ENCODING="gzip, deflate, br")
        assert br.status_code == 200 and br["Content-Encoding"] == "br", url
        assert br["Cache-Control"] == ONE_YEAR
        assert "Accept-Encoding" in br["Vary"]
        compressed = _body(br)
        assert len(compressed) < len(original) / 2
        assert brotli.decompress(compressed).startswith(original[:200])  # url() rewrites in CSS
        gz = collected.get(url, HTTP_ACCEPT_ENCODING="gzip")
        assert gz["Content-Encoding"] == "gzip" and gz["Cache-Control"] == ONE_YEAR
        assert gzip.decompress(_body(gz)).startswith(original[:200])
        plain = collected.get(url)
        assert "Content-Encoding" not in plain and plain["Cache-Control"] == ONE_YEAR
    # A name without its hash may change content: it is not kept for a year.
    unhashed = collected.get("/static/css/site.css")
    assert unhashed.status_code == 200 and "immutable" not in unhashed["Cache-Control"]


class _Assets(HTMLParser):
    """Every script and stylesheet a page asks for, and its inline script bytes."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict] = []
        self.styles: list[str] = []
        self.inline_js = 0
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self.scripts.append(attrs)
            self._in_script = "src" not in attrs
        elif tag == "link" and {"stylesheet", "preload", "modulepreload"} & set(
            (attrs.get("rel") or "").split()
        ):
            self.styles.append(attrs.get("href", ""))

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.inline_js += len(data.encode())


def _local(url: str) -> bool:
    return url.startswith("/") and not url.startswith("//")


def test_pages_ship_little_javascript_and_nothing_from_other_hosts(client):
    owner = make_user()
    board = make_board(owner, "Lakes")
    pin = make_pin(owner, board, media_asset=make_ready_asset(owner), title="Lake")
    client.force_login(make_user())
    urls = [
        "/",
        "/?partial=1",
        pin.get_absolute_url(),
        board.get_absolute_url(),
        owner.get_absolute_url(),
        "/search/?q=lake",
        "/pin/new/",
    ]
    for url in urls:
        response = client.get(url, follow=True)
        assert response.status_code == 200, url
        assets = _Assets()
        assets.feed(response.content.decode())
        sources = [script["src"] for script in assets.scripts if "src" in script]
        assert all(_local(src) for src in sources + assets.styles), (url, sources, assets.styles)
        # Scripts never block rendering; inline script is none at all.
        assert all(
            "defer" in s or "async" in s or s.get("type") == "module" for s in assets.scripts
        )
        assert assets.inline_js == 0, url
        linked = sum((SOURCE / src.removeprefix("/static/")).stat().st_size for src in sources)
        assert linked <= 32 * 1024, (url, linked)  # uncompressed; ~6 KB over the wire
