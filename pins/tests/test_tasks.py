"""Tasks through a real Celery worker process and the session's Redis broker."""

import time

import pytest
from django.db import transaction

from pins import services
from pins.models import MediaAsset
from pins.tests.factories import image_bytes, make_user


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
    with transaction.atomic():
        asset = services.media_asset_create(owner=owner, data=image_bytes(width=1200, height=900))
    done = _wait_for(lambda: MediaAsset.objects.get(pk=asset.pk).status == MediaAsset.Status.READY)
    assert done, log.read_text()[-3000:]
    asset.refresh_from_db()
    assert asset.renditions.count() == 4
    assert "media_asset_process_task" in log.read_text()


@pytest.mark.django_db(transaction=True)
def test_a_task_for_a_deleted_asset_finishes_quietly(celery_worker_process):
    from pins.tasks import media_asset_process_task

    _process, log = celery_worker_process
    media_asset_process_task.delay(10**9)
    assert _wait_for(lambda: "succeeded" in log.read_text()), log.read_text()[-3000:]
    assert "Traceback" not in log.read_text()
