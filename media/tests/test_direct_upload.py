"""Direct uploads to S3 and signed reads, against the session's S3 server over HTTP (moto).

moto checks no signatures, expiry or POST-policy conditions; those are proven against Ceph RGW
in stack/tests/test_rgw.py and pins/tests/test_s3_rgw.py. Here: the app's own checks, keys,
headers, deduplication, the sweeper, and the exact policy the browser is given.
"""

from __future__ import annotations

import base64
import contextlib
import json
from datetime import UTC, datetime, timedelta
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import botocore.auth
import pytest
import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from accounts.tests.factories import make_user
from boards.tests.factories import make_board
from media import services as media_services
from media import storage
from media.models import MediaAsset, PendingUpload
from media.storage import signing
from media.tests.factories import image_bytes, make_ready_asset
from pins import services
from pins.tests.factories import make_pin

pytestmark = [pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _needs_s3(request):
    request.getfixturevalue("services")  # the session's S3 server (a failure in CI)
    if not storage.is_s3():
        pytest.fail("the session's S3 server is not configured")


def _post_to_s3(form: dict, data: bytes, content_type: str) -> requests.Response:
    fields = {**form["fields"], "Content-Type": content_type}
    return requests.post(form["url"], data=fields, files={"file": ("x", data)}, timeout=10)


def _start(user) -> tuple[PendingUpload, dict]:
    return media_services.upload_start(owner=user)


def test_start_gives_a_server_key_a_short_expiry_and_the_right_conditions():
    user = make_user()
    before = timezone.now()
    pending, form = _start(user)
    assert pending.key.startswith(f"uploads/{user.pk}/") and len(pending.key) > 40
    assert form["fields"]["key"] == pending.key
    assert timedelta(seconds=590) <= pending.expires_at - before <= timedelta(seconds=610)
    policy = json.loads(base64.b64decode(form["fields"]["policy"]))
    expiration = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert timedelta(seconds=590) <= expiration - before <= timedelta(seconds=610)
    conditions = policy["conditions"]
    assert ["content-length-range", 1, settings.MEDIA_MAX_UPLOAD_BYTES] in conditions
    assert ["starts-with", "$Content-Type", "image/"] in conditions
    assert {"key": pending.key} in conditions
    assert {"bucket": settings.AWS_STORAGE_BUCKET_NAME} in conditions
    assert form["fields"]["x-amz-algorithm"] == "AWS4-HMAC-SHA256"


def test_a_good_direct_upload_becomes_an_asset_with_clean_headers(
    django_capture_on_commit_callbacks,
):
    user = make_user()
    pending, form = _start(user)
    data = image_bytes(300, 200)
    assert _post_to_s3(form, data, "image/png").status_code in (200, 201, 204)
    with django_capture_on_commit_callbacks() as callbacks:
        asset = media_services.upload_confirm(owner=user, upload_id=pending.pk)
    assert len(callbacks) == 1  # processing queued after commit
    assert (asset.width, asset.height, asset.format, asset.byte_size) == (
        300,
        200,
        "jpeg",
        len(data),
    )
    assert asset.original_key.startswith("originals/") and asset.original_key.endswith(".jpg")
    head = storage._client().head_object(Bucket=storage._bucket(), Key=asset.original_key)
    # The browser claimed PNG; the bytes are JPEG and that is what the object says.
    assert head["ContentType"] == "image/jpeg"
    assert head["ContentDisposition"] == "attachment"
    assert storage.head(key=pending.key) is None  # the upload itself is gone
    pending.refresh_from_db()
    assert pending.confirmed_at is not None and pending.asset == asset
    # Confirming twice (a double click) gives the same asset.
    assert media_services.upload_confirm(owner=user, upload_id=pending.pk) == asset


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"<html><script>alert(1)</script></html>", "unreadable"),
        (image_bytes(64, 64, fmt="TIFF"), "unsupported_format"),
        (image_bytes(2100, 100), "aspect"),
    ],
)
def test_a_direct_upload_that_is_not_an_acceptable_image_is_refused_and_deleted(data, code):
    user = make_user()
    pending, form = _start(user)
    _post_to_s3(form, data, "image/jpeg")  # moto ignores the conditions; the app does not
    with pytest.raises(ValidationError) as refused:
        media_services.upload_confirm(owner=user, upload_id=pending.pk)
    assert refused.value.code == code
    assert storage.head(key=pending.key) is None
    assert not MediaAsset.objects.exists()


def test_too_big_missing_and_someone_elses_uploads_are_refused(settings):
    user, other = make_user(), make_user()
    pending, form = _start(user)
    PendingUpload.objects.filter(pk=pending.pk).update(max_bytes=100)
    _post_to_s3(form, image_bytes(300, 200), "image/jpeg")
    with pytest.raises(ValidationError) as too_big:
        media_services.upload_confirm(owner=user, upload_id=pending.pk)
    assert too_big.value.code == "too_large" and storage.head(key=pending.key) is None

    missing, _ = _start(user)
    with pytest.raises(ValidationError) as never_sent:
        media_services.upload_confirm(owner=user, upload_id=missing.pk)
    assert never_sent.value.code == "missing_upload"

    theirs, their_form = _start(other)
    _post_to_s3(their_form, image_bytes(), "image/jpeg")
    with pytest.raises(ValidationError) as not_mine:
        media_services.upload_confirm(owner=user, upload_id=theirs.pk)
    assert not_mine.value.code == "unknown_upload"
    assert storage.head(key=theirs.key) is not None  # untouched: it is not ours to delete
    assert not MediaAsset.objects.exists()


def test_the_same_bytes_twice_give_the_same_asset_and_the_existing_pin(client):
    user = make_user()
    board = make_board(user)
    data = image_bytes(120, 90, color=(10, 200, 30))
    first, form = _start(user)
    _post_to_s3(form, data, "image/jpeg")
    asset = media_services.upload_confirm(owner=user, upload_id=first.pk)
    pin = make_pin(user, board, media_asset=asset)

    client.force_login(user)
    started = client.post("/pin/upload/start/").json()
    requests.post(started["url"], data=started["fields"], files={"file": ("x", data)}, timeout=10)
    confirmed = client.post("/pin/upload/confirm/", {"upload": started["upload"]})
    assert confirmed.status_code == 201
    assert confirmed.json()["asset"] == asset.pk
    assert confirmed.json()["duplicate_of"] == pin.get_absolute_url()
    assert MediaAsset.objects.count() == 1


def test_the_sweeper_removes_only_expired_unconfirmed_uploads():
    user = make_user()
    old, old_form = _start(user)
    fresh, fresh_form = _start(user)
    for form in (old_form, fresh_form):
        _post_to_s3(form, image_bytes(), "image/jpeg")
    PendingUpload.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(days=1))
    assert media_services.upload_sweep() == 1
    assert (
        storage.head(key=old.key) is None and not PendingUpload.objects.filter(pk=old.pk).exists()
    )
    assert storage.head(key=fresh.key) is not None
    assert media_services.upload_sweep() == 0  # a second run finds nothing


@pytest.mark.django_db(transaction=True)
def test_the_sweeper_makes_no_s3_call_inside_a_transaction():
    user = make_user()
    old, form = _start(user)
    _post_to_s3(form, image_bytes(), "image/jpeg")
    PendingUpload.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(days=1))
    inside: list[bool] = []
    real = storage.delete_keys

    def delete_keys(**kwargs):
        inside.append(connection.in_atomic_block)
        return real(**kwargs)

    with mock.patch.object(storage, "delete_keys", delete_keys):
        assert media_services.upload_sweep() == 1
    assert inside == [False]
    assert (
        storage.head(key=old.key) is None and not PendingUpload.objects.filter(pk=old.pk).exists()
    )


def test_views_need_login_and_post_and_say_why_when_s3_fails(client):
    assert client.post("/pin/upload/start/").status_code == 302
    user = make_user()
    client.force_login(user)
    assert client.get("/pin/upload/start/").status_code == 405
    assert client.post("/pin/upload/confirm/", {"upload": "x"}).status_code == 400
    # S3 refusing: a calm message, nothing half-made.
    with mock.patch.object(storage, "presigned_post", side_effect=OSError("connection refused")):
        reply = client.post("/pin/upload/start/")
    assert reply.status_code == 503 and "nothing was saved" in reply.json()["error"]
    assert not PendingUpload.objects.exists()


def test_s3_unreachable_during_confirm_leaves_nothing_behind(settings):
    user = make_user()
    pending, form = _start(user)
    _post_to_s3(form, image_bytes(), "image/jpeg")
    with (
        mock.patch.object(storage, "copy", side_effect=OSError("S3 went away")),
        pytest.raises(OSError),
    ):
        media_services.upload_confirm(owner=user, upload_id=pending.pk)
    assert not MediaAsset.objects.exists()
    pending.refresh_from_db()
    assert pending.confirmed_at is None  # can be confirmed again once S3 is back
    assert media_services.upload_confirm(owner=user, upload_id=pending.pk).original_key


@pytest.mark.django_db(transaction=True)
def test_confirming_makes_no_s3_call_inside_a_transaction():
    """A hung S3 must not hold a row lock: every S3 call of a confirmation runs outside any
    transaction (here no test transaction wraps the call either)."""
    user = make_user()
    pending, form = _start(user)
    _post_to_s3(form, image_bytes(320, 200), "image/jpeg")
    calls: list[tuple[str, bool]] = []

    def watched(name: str):
        real = getattr(storage, name)

        def call(**kwargs):
            calls.append((name, connection.in_atomic_block))
            return real(**kwargs)

        return call

    names = ["head", "read_range", "read_bytes", "sha256_of", "copy", "delete_keys"]
    with contextlib.ExitStack() as patches:
        for name in names:
            patches.enter_context(mock.patch.object(storage, name, watched(name)))
        asset = media_services.upload_confirm(owner=user, upload_id=pending.pk)
    assert {name for name, _ in calls} >= {"head", "read_range", "sha256_of", "copy"}
    assert [name for name, inside in calls if inside] == []
    pending.refresh_from_db()
    assert pending.confirmed_at is not None and pending.asset == asset


def _rival_confirms(user, pending, *, when: str):
    """Patches under which a second confirmation of ``pending`` runs to its end at ``when``
    ("after_checks": once ours has found nothing to reuse; "after_copy": once ours has copied)."""
    real_reuse, real_copy = media_services._media_asset_reuse, storage.copy
    rival: list[MediaAsset] = []
    ours_copied: list[str] = []  # the originals/ keys our confirmation copied to

    def run_rival() -> None:
        if not rival:
            with (
                mock.patch.object(media_services, "_media_asset_reuse", real_reuse),
                mock.patch.object(storage, "copy", real_copy),
            ):
                rival.append(media_services.upload_confirm(owner=user, upload_id=pending.pk))

    def reuse(**kwargs):
        found = real_reuse(**kwargs)
        if when == "after_checks":
            run_rival()
        return found

    def copy(**kwargs):
        real_copy(**kwargs)
        ours_copied.append(kwargs["target"])
        if when == "after_copy":
            run_rival()

    patches = contextlib.ExitStack()
    patches.enter_context(mock.patch.object(media_services, "_media_asset_reuse", reuse))
    patches.enter_context(mock.patch.object(storage, "copy", copy))
    return patches, rival, ours_copied


@pytest.mark.parametrize("when", ["after_checks", "after_copy"])
def test_two_confirmations_of_one_upload_end_with_one_asset(when):
    """The checks no longer run under the upload's lock, so two confirmations (a double click)
    can overlap: whichever finishes second gets the first's asset, and no second copy stays."""
    user = make_user()
    pending, form = _start(user)
    _post_to_s3(form, image_bytes(330, 200), "image/jpeg")
    patches, rival, ours_copied = _rival_confirms(user, pending, when=when)
    with patches:
        ours = media_services.upload_confirm(owner=user, upload_id=pending.pk)
    assert ours == rival[0]
    assert MediaAsset.objects.filter(owner=user).count() == 1
    assert storage.head(key=ours.original_key) is not None
    # Ours copied nothing (the upload was gone) or copied and deleted its copy again.
    assert len(ours_copied) == (0 if when == "after_checks" else 1)
    assert [key for key in ours_copied if storage.head(key=key) is not None] == []
    pending.refresh_from_db()
    assert pending.confirmed_at is not None and pending.asset == ours
    assert storage.head(key=pending.key) is None


# --- Signed reads --------------------------------------------------------------------------


def test_our_signed_urls_equal_botocores_for_the_same_instant():
    key = "renditions/ab/abcdef/grid-236.webp"
    instant = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
    ours = signing.signed_url(
        storage._s3_signing()[0],
        key,
        credentials=storage._frozen(storage._s3_signing()[1]),
        expires=900,
        now=instant.timestamp(),
    )
    window = signing.window_start(instant.timestamp(), 900)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=window):
        theirs = storage._client().generate_presigned_url(
            "get_object",
            Params={"Bucket": storage._bucket(), "Key": key},
            ExpiresIn=900,
        )
    assert urlsplit(ours)[:3] == urlsplit(theirs)[:3]
    assert parse_qs(urlsplit(ours).query) == parse_qs(urlsplit(theirs).query)


def test_signed_urls_are_stable_within_a_window_and_valid_for_half_the_expiry_at_least():
    signer, source = storage._s3_signing()
    credentials = storage._frozen(source)
    start = signing.window_start(1_800_000_000, 900).timestamp()
    first = signing.signed_url(signer, "k", credentials=credentials, expires=900, now=start)
    later = signing.signed_url(signer, "k", credentials=credentials, expires=900, now=start + 449)
    next_window = signing.signed_url(
        signer, "k", credentials=credentials, expires=900, now=start + 450
    )
    assert first == later != next_window
    query = parse_qs(urlsplit(later).query)
    signed_at = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    valid_until = signed_at.timestamp() + int(query["X-Amz-Expires"][0])
    assert valid_until - (start + 449) >= 450


def test_a_signed_url_fetches_the_object_from_s3():
    key = storage.put_bytes(key="renditions/zz/test/grid-236.webp", data=b"RIFF-fake", fmt="webp")
    response = requests.get(storage.url_for(key=key), timeout=10)
    assert response.status_code == 200 and response.content == b"RIFF-fake"
    head = storage._client().head_object(Bucket=storage._bucket(), Key=key)
    assert head["ContentType"] == "image/webp" and head["ContentDisposition"] == "inline"


def test_media_of_pins_on_secret_boards_gets_shorter_lived_urls(client):
    from media.models import MediaRendition

    owner = make_user()
    urls = {}
    for secret in (False, True):
        asset = make_ready_asset(owner, widths=(236,))
        pin = make_pin(owner, make_board(owner, is_secret=secret), media_asset=asset)
        client.force_login(owner)
        info = client.get("/pin/status/", {"ids": pin.pk}).json()["pins"][str(pin.pk)]
        urls[secret] = parse_qs(urlsplit(info["src"]).query)["X-Amz-Expires"][0]
    assert urls == {
        False: str(settings.MEDIA_URL_EXPIRY_SECONDS),
        True: str(settings.MEDIA_URL_EXPIRY_SECRET_SECONDS),
    }
    assert MediaRendition.objects.count() == 2


def test_purging_an_asset_made_from_a_direct_upload_works(django_capture_on_commit_callbacks):
    user = make_user()
    pending, form = _start(user)
    _post_to_s3(form, image_bytes(), "image/jpeg")
    asset = media_services.upload_confirm(owner=user, upload_id=pending.pk)
    with django_capture_on_commit_callbacks():
        pin = make_pin(user, make_board(user), media_asset=asset)
    services.pin_delete(pin=pin)
    assert media_services.media_asset_purge(asset_id=asset.pk) is True
    assert not MediaAsset.objects.filter(pk=asset.pk).exists()
    assert not PendingUpload.objects.filter(pk=pending.pk).exists()


def test_a_video_goes_straight_to_s3_too_and_is_probed_whole(django_capture_on_commit_callbacks):
    from media.tests.factories import video_bytes

    user = make_user()
    pending, form = media_services.upload_start(owner=user, media_type="video")
    policy = json.loads(base64.b64decode(form["fields"]["policy"]))
    assert ["starts-with", "$Content-Type", "video/"] in policy["conditions"]
    clip = video_bytes(seconds=2)
    assert _post_to_s3(form, clip, "video/mp4").status_code in (200, 201, 204)
    with django_capture_on_commit_callbacks() as callbacks:
        asset = media_services.upload_confirm(owner=user, upload_id=pending.pk)
    assert asset.kind == MediaAsset.Kind.VIDEO and asset.format == "mp4"
    assert asset.duration_ms is not None
    assert abs(asset.duration_ms - 2000) < 50 and asset.original_key.endswith(".mp4")
    assert len(callbacks) == 1
    object_head = storage.head(key=asset.original_key)
    assert object_head is not None
    assert object_head["content_type"] == "video/mp4"
    # A clip with no video track is refused at confirmation, and deleted.
    audio_only, audio_form = media_services.upload_start(owner=user, media_type="video")
    _post_to_s3(audio_form, video_bytes(seconds=1, video=False), "video/mp4")
    with pytest.raises(ValidationError) as refused:
        media_services.upload_confirm(owner=user, upload_id=audio_only.pk)
    assert refused.value.code == "no_video" and storage.head(key=audio_only.key) is None


def test_start_refuses_a_kind_that_is_neither_image_nor_video(client):
    client.force_login(make_user())
    reply = client.post("/pin/upload/start/", {"kind": "text"})
    assert reply.status_code == 400 and "image or a video" in reply.json()["error"]
    assert not PendingUpload.objects.exists()
