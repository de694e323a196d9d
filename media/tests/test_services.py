"""Media services against the configured storage (the S3 server when the stack runs), the
reference counting of shared assets by pins and avatars included."""

import io
from typing import cast
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import override_settings
from PIL import Image

from accounts.tests.factories import make_user
from boards.tests.factories import make_board
from media import images
from media import services as media_services
from media.models import MediaAsset, MediaRendition
from media.tests.factories import XMP_WITH_GPS, encoded, gps_exif, image_bytes, two_tone
from pins import services
from pins.models import Pin
from pins.tests.factories import make_pin

pytestmark = pytest.mark.django_db


def _upload(owner, **kwargs):
    return media_services.media_asset_create(owner=owner, data=image_bytes(**kwargs))


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
        media_services.media_asset_create(owner=owner, data=data)
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
    processed = media_services.media_asset_process(asset_id=asset.pk)
    assert processed is not None
    assert processed.status == MediaAsset.Status.READY
    assert processed.dominant_color == "#c82828"
    renditions = list(processed.renditions.order_by("width", "format"))
    assert [(r.purpose, r.width, r.format) for r in renditions] == [
        ("grid", 236, "jpeg"),
        ("grid", 236, "webp"),
        ("grid", 474, "jpeg"),
        ("grid", 474, "webp"),
        ("grid", 736, "jpeg"),
        ("grid", 736, "webp"),
        ("large", 1472, "jpeg"),
        ("large", 1472, "webp"),
    ]
    assert processed.placeholder and processed.interrupted_runs == 0
    assert all(default_storage.exists(r.key) for r in renditions)
    keys = {r.key for r in renditions}

    media_services.media_asset_process(asset_id=asset.pk)
    assert {r.key for r in MediaRendition.objects.filter(asset=asset)} == keys

    # One rendition lost: a re-run rebuilds exactly that one under the same key.
    lost = renditions[0]
    lost.delete()
    media_services.media_asset_process(asset_id=asset.pk)
    assert {r.key for r in MediaRendition.objects.filter(asset=asset)} == keys


def test_processing_a_vanished_asset_is_a_quiet_no_op():
    assert media_services.media_asset_process(asset_id=987654) is None


def test_a_file_that_stopped_being_an_image_fails_with_a_reason():
    owner = make_user()
    asset = _upload(owner)
    default_storage.delete(asset.original_key)
    default_storage.save(asset.original_key, ContentFile(b"garbage"))
    processed = media_services.media_asset_process(asset_id=asset.pk)
    assert processed is not None
    assert processed.status == MediaAsset.Status.FAILED
    assert "not an image" in processed.failure_reason


def test_shared_media_survives_until_the_last_pin_goes(django_capture_on_commit_callbacks):
    author, saver = make_user(), make_user()
    asset = _upload(author)
    media_services.media_asset_process(asset_id=asset.pk)
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
    assert media_services.media_asset_purge(asset_id=asset.pk) is True
    assert not MediaAsset.objects.filter(pk=asset.pk).exists()
    assert not any(default_storage.exists(key) for key in keys)
    assert media_services.media_asset_purge(asset_id=asset.pk) is False
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
            owner, board, media_asset=media_services.media_asset_create(owner=owner, data=data)
        )
    asset_id = pin.media_id
    services.pin_delete(pin=pin)
    assert MediaAsset.objects.get(pk=asset_id).released_at is not None

    again = media_services.media_asset_create(owner=owner, data=data)
    assert again.pk == asset_id and again.released_at is None
    assert (
        media_services.media_asset_purge(asset_id=asset_id) is False
    )  # the queued purge finds nothing to do
    assert MediaAsset.objects.filter(pk=asset_id).exists()


# --- The media pipeline: cleaning, failures, rebuilds and sweeps --------------------------------


def _stored_as_uploaded(owner, data: bytes, fmt: str) -> MediaAsset:
    """An asset whose original holds exactly ``data``, as a direct upload leaves it (S3 copies
    the object server-side; only its first 256 KB were sniffed)."""
    from media import storage

    info = images.sniff_image(data[: 256 * 1024])
    key = storage.original_key_new(fmt=fmt)
    storage.put_bytes(key=key, data=data, fmt=fmt)
    return MediaAsset.objects.create(
        owner=owner,
        original_key=key,
        byte_size=len(data),
        format=info.format,
        width=info.width,
        height=info.height,
    )


def _read(key: str) -> bytes:
    with default_storage.open(key, "rb") as handle:
        return handle.read()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_no_rendition_and_no_stored_original_keeps_location_metadata(fmt, exiftool):
    source = two_tone(900, 600)
    data = encoded(source, fmt, exif=gps_exif(orientation=6).tobytes(), xmp=XMP_WITH_GPS)
    assert any("GPS" in tag for tag in exiftool.metadata(data)[0])  # the tool does see it

    owner = make_user()
    uploaded = media_services.media_asset_create(owner=owner, data=data)  # cleaned before storing
    direct = _stored_as_uploaded(owner, data, fmt.lower())  # cleaned by the worker
    for asset in (uploaded, direct):
        processed = media_services.media_asset_process(asset_id=asset.pk)
        assert processed is not None
        assert processed.status == MediaAsset.Status.READY
        assert (processed.width, processed.height) == (600, 900)
        renditions = list(processed.renditions.all())
        assert len(renditions) == 8
        master, *derived = exiftool.metadata(
            _read(processed.original_key), *(_read(r.key) for r in renditions)
        )
        assert master == {"IFD0:Orientation": 6}
        assert derived == [{}] * 8


def test_a_heic_photo_gets_a_jpeg_master_and_the_heic_goes(django_capture_on_commit_callbacks):
    owner = make_user()
    data = encoded(two_tone(800, 600), "HEIF", exif=gps_exif().tobytes())
    asset = media_services.media_asset_create(owner=owner, data=data)
    assert asset.format == "heic" and asset.original_key.endswith(".heic")
    with django_capture_on_commit_callbacks(execute=True):
        processed = media_services.media_asset_process(asset_id=asset.pk)
        assert processed is not None
    assert processed.status == MediaAsset.Status.READY
    assert processed.format == "jpeg"
    assert processed.original_key == asset.original_key.removesuffix(".heic") + ".jpg"
    assert not default_storage.exists(asset.original_key)
    master = Image.open(io.BytesIO(_read(processed.original_key)))
    assert master.format == "JPEG" and not master.getexif()
    assert processed.byte_size == len(_read(processed.original_key))
    # The same photo again finds the asset by the hash of what was uploaded.
    assert media_services.media_asset_create(owner=owner, data=data).pk == asset.pk


def test_a_file_the_worker_rejects_fails_once_with_its_reason_and_is_deleted(
    django_capture_on_commit_callbacks,
):
    owner = make_user()
    whole = image_bytes(width=1200, height=900)
    asset = _stored_as_uploaded(owner, whole[: len(whole) * 6 // 10], "jpeg")
    with django_capture_on_commit_callbacks(execute=True):
        processed = media_services.media_asset_process(asset_id=asset.pk)
        assert processed is not None
    assert processed.status == MediaAsset.Status.FAILED
    assert "damaged or incomplete" in processed.failure_reason
    assert not default_storage.exists(asset.original_key)
    assert not processed.renditions.exists()
    # A second delivery of the same message changes nothing and raises nothing.
    again = media_services.media_asset_process(asset_id=asset.pk)
    assert again is not None
    assert again.status == MediaAsset.Status.FAILED


def test_a_missing_original_fails_the_asset_instead_of_retrying():
    asset = _upload(make_user())
    default_storage.delete(asset.original_key)
    processed = media_services.media_asset_process(asset_id=asset.pk)
    assert processed is not None
    assert processed.status == MediaAsset.Status.FAILED
    assert "no longer stored" in processed.failure_reason


def test_a_storage_error_puts_the_asset_back_to_pending_for_the_retry(monkeypatch):
    from botocore.exceptions import EndpointConnectionError

    from media import storage
    from media.tasks import is_transient

    asset = _upload(make_user())
    error = EndpointConnectionError(endpoint_url="http://s3.invalid")

    def unreachable(*, key):
        raise error

    monkeypatch.setattr(storage, "read_bytes", unreachable)
    with pytest.raises(EndpointConnectionError):
        media_services.media_asset_process(asset_id=asset.pk)
    asset.refresh_from_db()
    assert (asset.status, asset.interrupted_runs) == (MediaAsset.Status.PENDING, 0)
    assert is_transient(error)


def test_runs_that_never_finish_are_counted_and_the_asset_is_given_up():
    asset = _upload(make_user())
    # A run claimed it and was killed: the row says processing.
    MediaAsset.objects.filter(pk=asset.pk).update(status=MediaAsset.Status.PROCESSING)
    processed = media_services.media_asset_process(asset_id=asset.pk)
    assert processed is not None
    assert processed.status == MediaAsset.Status.READY and processed.interrupted_runs == 0

    MediaAsset.objects.filter(pk=asset.pk).update(
        status=MediaAsset.Status.PROCESSING,
        interrupted_runs=media_services.MAX_INTERRUPTED_RUNS - 1,
    )
    given_up = media_services.media_asset_process(asset_id=asset.pk)
    assert given_up is not None
    assert given_up.status == MediaAsset.Status.FAILED
    assert "stopped the worker repeatedly" in given_up.failure_reason


def test_rebuild_makes_every_rendition_again_under_the_same_keys(
    django_capture_on_commit_callbacks,
):
    asset = _upload(make_user(), width=800, height=600)
    media_services.media_asset_process(asset_id=asset.pk)
    keys = set(asset.renditions.values_list("key", flat=True))
    with django_capture_on_commit_callbacks() as callbacks:
        assert media_services.media_asset_rebuild(asset_ids=[asset.pk]) == 1
    asset.refresh_from_db()
    assert asset.status == MediaAsset.Status.PENDING and not asset.renditions.exists()
    assert len(callbacks) == 1
    processed = media_services.media_asset_process(asset_id=asset.pk)
    assert processed is not None
    assert processed.status == MediaAsset.Status.READY
    assert set(processed.renditions.values_list("key", flat=True)) == keys


def test_the_sweeper_queues_again_only_what_is_stuck(django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    owner = make_user()
    old = timezone.now() - timedelta(minutes=30)
    stuck_pending, stuck_processing, fresh, ready, failed, released = (
        _upload(owner, width=100 + i) for i in range(6)
    )
    MediaAsset.objects.filter(pk=stuck_processing.pk).update(status="processing")
    MediaAsset.objects.filter(pk=ready.pk).update(status="ready")
    MediaAsset.objects.filter(pk=failed.pk).update(status="failed", failure_reason="bad")
    MediaAsset.objects.filter(pk=released.pk).update(released_at=old)
    MediaAsset.objects.exclude(pk=fresh.pk).update(updated_at=old)

    queued: list[int] = []
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert media_services.media_asset_sweep_stuck(older_than=timedelta(minutes=10)) == 2
    assert len(callbacks) == 1
    from media import tasks

    with mock.patch.object(
        tasks.media_asset_process_task, "apply_async", lambda args, **limits: queued.extend(args)
    ):
        callbacks[0]()
    assert sorted(queued) == sorted([stuck_pending.pk, stuck_processing.pk])
    # Touched: not queued again before another ten minutes.
    assert media_services.media_asset_sweep_stuck(older_than=timedelta(minutes=10)) == 0


def test_a_broker_that_is_down_does_not_turn_an_upload_into_an_error(monkeypatch, caplog):
    from kombu.exceptions import OperationalError as BrokerError

    from media import tasks

    def broker_down(*args, **kwargs):
        raise BrokerError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.media_asset_process_task, "apply_async", broker_down)
    media_services._enqueue_processing(12345)
    assert "the stuck-media sweeper will" in caplog.text


def test_old_versions_of_a_cleaned_original_are_removed_from_a_versioned_bucket():
    from django.conf import settings
    from django.test import override_settings

    from media import storage
    from stack.pytest_plugin import require_stack

    require_stack()

    from storages.backends.s3 import S3Storage

    client = cast(S3Storage, default_storage).connection.meta.client
    bucket = "pinsite-versioned-test"
    client.create_bucket(Bucket=bucket)
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    storages = {
        **settings.STORAGES,
        "default": {
            **settings.STORAGES["default"],
            "OPTIONS": {**settings.STORAGES["default"]["OPTIONS"], "bucket_name": bucket},
        },
    }
    with override_settings(AWS_STORAGE_BUCKET_NAME=bucket, STORAGES=storages):
        data = encoded(two_tone(), "JPEG", exif=gps_exif().tobytes())
        asset = _stored_as_uploaded(make_user(), data, "jpeg")
        storage.put_bytes(key=asset.original_key, data=data, fmt="jpeg")  # a second version
        media_services.media_asset_process(asset_id=asset.pk)
        versions = client.list_object_versions(Bucket=bucket, Prefix=asset.original_key)
        kept = [v for v in versions.get("Versions", []) if v["Key"] == asset.original_key]
        assert len(kept) == 1 and not versions.get("DeleteMarkers")
        body = client.get_object(Bucket=bucket, Key=asset.original_key)["Body"].read()
        assert b"PinsiteCam" not in body


def test_a_direct_upload_whose_orientation_the_prefix_did_not_show_gets_the_right_size():
    # A WebP keeps its EXIF at the end, past the 256 KB a direct upload's sniff reads.
    from media.tests.factories import noise_image

    data = encoded(noise_image(1200, 900), "WEBP", quality=90, exif=gps_exif(6).tobytes())
    assert len(data) > 256 * 1024
    asset = _stored_as_uploaded(make_user(), data, "webp")
    assert (asset.width, asset.height) == (1200, 900)  # what the prefix said
    processed = media_services.media_asset_process(asset_id=asset.pk)
    assert processed is not None
    assert (processed.width, processed.height) == (900, 1200)
    made = set(processed.renditions.values_list("purpose", "width", "format"))
    assert made == images.rendition_set(900)


def test_a_live_claim_makes_another_run_wait_and_a_dead_one_is_taken_over():
    from datetime import timedelta

    from django.utils import timezone

    from media.models import MediaAssetBusy

    asset = _upload(make_user())
    claimed = {"status": MediaAsset.Status.PROCESSING, "build_token": "first"}
    MediaAsset.objects.filter(pk=asset.pk).update(**claimed, build_started_at=timezone.now())
    with pytest.raises(MediaAssetBusy):
        media_services.media_asset_process(asset_id=asset.pk, run="second")
    assert MediaAsset.objects.get(pk=asset.pk).build_token == "first"

    # The same message again (its worker died, the broker delivered it anew) takes over at once.
    processed = media_services.media_asset_process(asset_id=asset.pk, run="first")
    assert processed is not None and processed.status == MediaAsset.Status.READY
    assert (processed.build_token, processed.build_started_at) == ("", None)

    # Another run's claim older than the time limit belongs to a dead run.
    MediaAsset.objects.filter(pk=asset.pk).update(**claimed, interrupted_runs=0)
    processed.renditions.all().delete()
    limit = media_services.media_asset_time_limit(kind=asset.kind)
    MediaAsset.objects.filter(pk=asset.pk).update(
        build_started_at=timezone.now() - timedelta(seconds=limit + 1)
    )
    processed = media_services.media_asset_process(asset_id=asset.pk, run="second")
    assert processed is not None and processed.status == MediaAsset.Status.READY
    assert processed.renditions.count() == len(images.rendition_set(processed.width or 0))


def test_a_run_whose_claim_was_taken_over_mid_build_records_nothing(monkeypatch):
    asset = _upload(make_user())
    build = images.process_image

    def taken_over(data, **kwargs):
        # Meanwhile the claim went to another run (this one looked dead).
        MediaAsset.objects.filter(pk=asset.pk).update(build_token="usurper")
        return build(data, **kwargs)

    monkeypatch.setattr(images, "process_image", taken_over)
    processed = media_services.media_asset_process(asset_id=asset.pk, run="slow")
    assert processed is not None
    assert (processed.status, processed.build_token) == (MediaAsset.Status.PROCESSING, "usurper")
    assert not processed.renditions.exists()


@pytest.mark.django_db(transaction=True)
def test_no_row_lock_or_transaction_is_held_while_the_file_is_decoded(monkeypatch):
    import threading

    from django.db import connection, connections, transaction

    asset = _upload(make_user())
    build = images.process_image
    seen: dict[str, object] = {}

    def watched(data, **kwargs):
        seen["in_transaction"] = connection.in_atomic_block

        def lock_elsewhere() -> None:
            try:  # another connection, as another worker or a page's write would be
                with transaction.atomic():
                    MediaAsset.objects.select_for_update(nowait=True).get(pk=asset.pk)
                seen["locked_elsewhere"] = True
            except Exception as error:
                seen["locked_elsewhere"] = error
            finally:
                connections.close_all()

        other = threading.Thread(target=lock_elsewhere)
        other.start()
        other.join()
        return build(data, **kwargs)

    monkeypatch.setattr(images, "process_image", watched)
    processed = media_services.media_asset_process(asset_id=asset.pk)
    assert processed is not None and processed.status == MediaAsset.Status.READY
    assert seen == {"in_transaction": False, "locked_elsewhere": True}
