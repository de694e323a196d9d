"""Local media (the embedded default) behind signed, expiring URLs: the same gate as S3."""

from __future__ import annotations

import html
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.test import override_settings

from accounts.tests.factories import make_user
from boards.tests.factories import make_board
from media import services, storage
from media.storage import local
from media.tests.factories import image_bytes
from pins.tests.factories import make_pin

pytestmark = pytest.mark.django_db


@pytest.fixture
def local_media(tmp_path):
    """Media on local disk under a temporary MEDIA_ROOT (the suite otherwise runs on S3)."""
    stores = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path, "base_url": "/media/"},
        },
    }
    with override_settings(AWS_STORAGE_BUCKET_NAME="", STORAGES=stores, MEDIA_ROOT=tmp_path):
        yield tmp_path


@pytest.fixture
def secret_pin(local_media):
    """A pin on a secret board, its image stored and processed on local disk."""
    owner = make_user("keeper")
    asset = services.media_asset_create(owner=owner, data=image_bytes(900, 600))
    services.media_asset_process(asset_id=asset.pk)
    board = make_board(owner, "Private things", is_secret=True)
    pin = make_pin(owner, board=board, media_asset=asset, title="A secret view")
    return pin


def page_image_urls(client, pin) -> list[str]:
    page = client.get(pin.get_absolute_url())
    assert page.status_code == 200
    return [html.unescape(url) for url in re.findall(r'src="(/media/[^"]+)"', page.text)]


def rendition_keys(pin) -> list[str]:
    return list(pin.media.renditions.values_list("key", flat=True))


def test_a_page_issued_url_serves_the_rendition_with_its_stored_type(client, secret_pin):
    client.force_login(secret_pin.owner)
    urls = page_image_urls(client, secret_pin)
    assert urls, "the pin page shows its image"
    client.logout()  # a signed URL is a bearer token, like S3's: it works once issued
    response = client.get(urls[0])
    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert not response["Content-Disposition"].startswith("attachment")
    assert b"".join(response.streaming_content)[:4] == b"RIFF"
    # Secret pins get the shorter lifetime.
    expires_at = int(parse_qs(urlsplit(urls[0]).query)["e"][0])
    assert expires_at - time.time() <= settings.MEDIA_URL_EXPIRY_SECRET_SECONDS


def test_bare_paths_of_a_secret_pins_files_are_404_logged_out(client, secret_pin):
    assert client.get(secret_pin.get_absolute_url()).status_code == 404
    for key in [*rendition_keys(secret_pin), secret_pin.media.original_key]:
        assert (settings.MEDIA_ROOT / key).exists()
        assert client.get(f"/media/{key}").status_code == 404, key
        assert client.get(f"/media/{key}?e=9999999999&s=").status_code == 404, key


def test_an_expired_or_edited_signature_is_404(client, secret_pin):
    key = rendition_keys(secret_pin)[0]
    expired = local.signed_url(key=key, expires=300, now=time.time() - 3600)
    assert client.get(expired).status_code == 404
    fresh = local.signed_url(key=key, expires=300)
    assert client.get(fresh).status_code == 200
    query = parse_qs(urlsplit(fresh).query)
    later = int(query["e"][0]) + 86400
    assert client.get(f"/media/{key}?e={later}&s={query['s'][0]}").status_code == 404
    assert client.get(f"/media/{key}?e={query['e'][0]}&s={'0' * 64}").status_code == 404
    assert client.get(f"/media/{key}?e=%EF%BC%91&s={query['s'][0]}").status_code == 404


def test_an_originals_path_derived_from_a_rendition_url_is_404(client, secret_pin):
    client.force_login(secret_pin.owner)
    url = page_image_urls(client, secret_pin)[0]
    client.logout()
    original = secret_pin.media.original_key
    stem = original.rsplit("/", 1)[1].split(".")[0]
    assert stem in url  # the rendition's path does give the original's name away...
    query = urlsplit(url).query
    assert client.get(f"/media/{original}?{query}").status_code == 404  # ...but not its file
    assert client.get(f"/media/{original}").status_code == 404


def test_an_original_is_only_ever_a_download(client, secret_pin):
    original = secret_pin.media.original_key
    response = client.get(storage.url_for(key=original))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_keys_outside_the_media_folders_are_404_even_when_signed(client, local_media):
    (local_media.parent / "outside.txt").write_text("not media")
    (local_media / "renditions").mkdir(exist_ok=True)
    (local_media / "notes.txt").write_text("not media either")
    for key in [
        "renditions/../../outside.txt",
        "renditions/../notes.txt",
        "notes.txt",
        "/etc/passwd",
        "renditions//x.webp",
        "renditions/..\\x.webp",
        "renditions",
    ]:
        assert local.file_path(key=key) is None, key
        response = client.get(local.signed_url(key=key, expires=300))
        assert response.status_code == 404, key


def test_only_get_and_head(client, secret_pin):
    url = storage.url_for(key=rendition_keys(secret_pin)[0])
    assert client.head(url).status_code == 200
    for method in ("post", "put", "delete", "patch", "trace"):
        assert getattr(client, method)(url).status_code == 405, method


def test_on_s3_the_route_serves_nothing(client, secret_pin):
    url = storage.url_for(key=rendition_keys(secret_pin)[0])
    with override_settings(AWS_STORAGE_BUCKET_NAME="media"):
        assert client.get(url).status_code == 404
