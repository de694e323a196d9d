"""Pin and media services against the configured storage (the S3 server when the stack runs)."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import override_settings

from pins import services
from pins.models import MediaAsset, MediaRendition, Pin
from pins.tests.factories import image_bytes, make_board, make_pin, make_user

pytestmark = pytest.mark.django_db


def _upload(owner, **kwargs):
    return services.media_asset_create(owner=owner, data=image_bytes(**kwargs))


def test_upload_stores_the_original_under_a_server_key(django_capture_on_commit_callbacks):
    owner = make_user()
    with django_capture_on_commit_callbacks() as callbacks:
        asset = _upload(owner, width=900, height=600)
    assert asset.original_key.startswith("originals/") and asset.original_key.endswith(".jpg")
    assert default_storage.exists(asset.original_key)
    assert (asset.format, asset.width, asset.height) == ("jpeg", 900, 600)
    assert asset.status == MediaAsset.Status.PENDING
    assert len(callbacks) == 1  # processing is queued only after the row is committed


def test_same_bytes_twice_give_the_same_asset(django_capture_on_commit_callbacks):
    owner = make_user()
    first = _upload(owner)
    with django_capture_on_commit_callbacks() as callbacks:
        second = _upload(owner)
    assert first.pk == second.pk
    assert callbacks == []
    assert MediaAsset.objects.count() == 1


@pytest.mark.parametrize(
    ("data", "code"),
    [(b"GIF89a not really", "unreadable"), (b"%PDF-1.7", "unreadable")],
)
def test_bad_upload_is_refused_and_changes_nothing(data, code):
    owner = make_user()
    with pytest.raises(ValidationError) as caught:
        services.media_asset_create(owner=owner, data=data)
    assert caught.value.code == code
    assert not MediaAsset.objects.exists()


@override_settings(MEDIA_MAX_UPLOAD_BYTES=1000)
def test_oversized_upload_is_refused_before_anything_is_stored():
    with pytest.raises(ValidationError) as caught:
        _upload(make_user())
    assert caught.value.code == "too_large"
    assert not MediaAsset.objects.exists()


def test_processing_makes_the_ladder_once_and_a_rerun_is_harmless():
    owner = make_user()
    asset = _upload(owner, width=1600, height=1200)
    processed = services.media_asset_process(asset_id=asset.pk)
    assert processed.status == MediaAsset.Status.READY
    assert processed.dominant_color == "#c82828"
    renditions = list(processed.renditions.order_by("width"))
    assert [(r.purpose, r.width) for r in renditions] == [
        ("grid", 236),
        ("grid", 474),
        ("grid", 736),
        ("large", 1472),
    ]
    assert all(default_storage.exists(r.key) for r in renditions)
    keys = {r.key for r in renditions}

    services.media_asset_process(asset_id=asset.pk)
    assert {r.key for r in MediaRendition.objects.filter(asset=asset)} == keys

    # One rendition lost: a re-run rebuilds exactly that one under the same key.
    lost = renditions[0]
    lost.delete()
    services.media_asset_process(asset_id=asset.pk)
    assert {r.key for r in MediaRendition.objects.filter(asset=asset)} == keys


def test_processing_a_vanished_asset_is_a_quiet_no_op():
    assert services.media_asset_process(asset_id=987654) is None


def test_a_file_that_stopped_being_an_image_fails_with_a_reason():
    owner = make_user()
    asset = _upload(owner)
    default_storage.delete(asset.original_key)
    default_storage.save(asset.original_key, ContentFile(b"garbage"))
    processed = services.media_asset_process(asset_id=asset.pk)
    assert processed.status == MediaAsset.Status.FAILED
    assert "not an image" in processed.failure_reason


def test_shared_media_survives_until_the_last_pin_goes(django_capture_on_commit_callbacks):
    author, saver = make_user(), make_user()
    asset = _upload(author)
    services.media_asset_process(asset_id=asset.pk)
    original = services.pin_create(
        owner=author, media_asset=asset, board=make_board(author), title="Lake"
    )
    saved = services.pin_save(user=saver, pin=original, board=make_board(saver))
    assert saved.parent == original and saved.media_id == asset.pk and saved.title == "Lake"
    keys = [asset.original_key, *asset.renditions.values_list("key", flat=True)]

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.pin_delete(pin=original)
    assert callbacks == []
    saved.refresh_from_db()
    assert saved.parent is None  # lineage link cleared, the saved pin itself stays
    assert all(default_storage.exists(key) for key in keys)

    with django_capture_on_commit_callbacks() as callbacks:
        services.pin_delete(pin=saved)
    asset.refresh_from_db()
    assert asset.released_at is not None
    assert len(callbacks) == 1
    assert services.media_asset_purge(asset_id=asset.pk) is True
    assert not MediaAsset.objects.filter(pk=asset.pk).exists()
    assert not any(default_storage.exists(key) for key in keys)
    assert services.media_asset_purge(asset_id=asset.pk) is False
    assert not Pin.objects.exists()


def test_an_avatar_keeps_its_asset_alive():
    owner = make_user()
    asset = _upload(owner)
    pin = services.pin_create(owner=owner, media_asset=asset, board=make_board(owner))
    owner.profile.avatar = asset
    owner.profile.save()
    services.pin_delete(pin=pin)
    asset.refresh_from_db()
    assert asset.released_at is None


def test_bytes_released_but_not_yet_purged_are_taken_back_and_the_purge_skips_them(
    django_capture_on_commit_callbacks,
):
    owner = make_user()
    board = make_board(owner)
    data = image_bytes(64, 48)
    with django_capture_on_commit_callbacks():
        pin = make_pin(
            owner, board, media_asset=services.media_asset_create(owner=owner, data=data)
        )
    asset_id = pin.media_id
    services.pin_delete(pin=pin)
    assert MediaAsset.objects.get(pk=asset_id).released_at is not None

    again = services.media_asset_create(owner=owner, data=data)
    assert again.pk == asset_id and again.released_at is None
    assert (
        services.media_asset_purge(asset_id=asset_id) is False
    )  # the queued purge finds nothing to do
    assert MediaAsset.objects.filter(pk=asset_id).exists()
