"""Tasks through a real Celery worker process and the session's Redis broker."""

import time

import pytest

from accounts.tests.factories import make_user
from media import services
from media.models import MediaAsset
from media.tests.factories import image_bytes


def _wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.django_db(transaction=True)
def test_an_upload_is_processed_by_the_worker_after_commit(celery_worker_process):
    _process, log = celery_worker_process
    owner = make_user()
    # Stored outside any transaction; processing is queued once the row is committed.
    asset = services.media_asset_create(owner=owner, data=image_bytes(width=1200, height=900))
    done = _wait_for(lambda: MediaAsset.objects.get(pk=asset.pk).status == MediaAsset.Status.READY)
    assert done, log.read_text()[-3000:]
    asset.refresh_from_db()
    assert asset.renditions.count() == 8
    assert asset.placeholder and asset.dominant_color
    assert "media_asset_process_task" in log.read_text()


@pytest.mark.django_db(transaction=True)
def test_a_photo_with_location_ends_ready_on_s3_with_nothing_left_to_locate_it(
    celery_worker_process, exiftool
):
    from django.core.files.storage import default_storage

    from media import storage
    from media.tests.factories import encoded, gps_exif, two_tone

    _process, log = celery_worker_process
    data = encoded(two_tone(1600, 1000), "JPEG", exif=gps_exif(orientation=6).tobytes())
    asset = services.media_asset_create(owner=make_user(), data=data)
    done = _wait_for(lambda: MediaAsset.objects.get(pk=asset.pk).status == MediaAsset.Status.READY)
    assert done, log.read_text()[-3000:]
    asset.refresh_from_db()
    assert (asset.width, asset.height) == (1000, 1600)
    keys = [asset.original_key, *asset.renditions.values_list("key", flat=True)]
    blobs = []
    for key in keys:
        with default_storage.open(key, "rb") as handle:
            blobs.append(handle.read())
    master, *renditions = exiftool.metadata(*blobs)
    assert master == {"IFD0:Orientation": 6}
    assert renditions == [{}] * 8
    if storage.is_s3():
        object_head = storage.head(key=asset.original_key)
        assert object_head is not None
        assert object_head["content_type"] == "image/jpeg"


@pytest.mark.django_db(transaction=True)
def test_a_task_for_a_deleted_asset_finishes_quietly(celery_worker_process):
    from media.tasks import media_asset_process_task

    _process, log = celery_worker_process
    media_asset_process_task.delay(10**9)
    assert _wait_for(lambda: "succeeded" in log.read_text()), log.read_text()[-3000:]
    assert "Traceback" not in log.read_text()
