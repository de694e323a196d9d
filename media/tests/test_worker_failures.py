"""Real workers on the session's Redis that die, and a Redis that goes away: nothing is lost.

Each test starts its own `celery worker` processes (``celery_worker_factory``) because it kills
them or takes their broker away. Rows are committed (``transaction=True``) so workers see them.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from PIL import Image

from accounts.tests.factories import make_user
from media import images, services, storage
from media.models import MediaAsset
from media.tests.factories import encoded
from stack.processes import stop_groups
from stack.pytest_plugin import require_stack
from stack.redis_server import ping

# Unacknowledged messages of a dead worker come back after this many seconds (default: an hour).
SHORT_VISIBILITY = {"CELERY_BROKER_VISIBILITY_TIMEOUT": "6"}


def _wait_for(predicate, timeout: float = 60.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def _slow_image(seed: int) -> bytes:
    """A 37 MP PNG of gradients: half a megabyte to upload, about 1.5 s for a worker to process."""
    gradient = Image.linear_gradient("L").resize((7500, 5000))
    image = Image.merge(
        "RGB",
        (
            gradient,
            gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
            gradient.transpose(Image.Transpose.FLIP_TOP_BOTTOM),
        ),
    )
    image.putpixel((0, 0), (seed, seed, seed))
    return encoded(image, "PNG", compress_level=1)


def _upload(data: bytes) -> MediaAsset:
    # Outside any transaction (the file is stored first); processing is queued at once.
    return services.media_asset_create(owner=make_user(), data=data)


def _status(asset: MediaAsset) -> str:
    return MediaAsset.objects.get(pk=asset.pk).status


def _stored_rendition_keys(asset: MediaAsset) -> set[str]:
    """Every object under the asset's rendition folder in the bucket (or on disk)."""
    sample = storage.rendition_key(
        original_key=asset.original_key, purpose="grid", width=1, fmt="x"
    )
    folder = sample.rsplit("/", 1)[0]
    _dirs, files = default_storage.listdir(folder)
    return {f"{folder}/{name}" for name in files}


def _assert_one_set_of_renditions(asset: MediaAsset) -> None:
    asset.refresh_from_db()
    assert asset.status == MediaAsset.Status.READY
    rows = list(asset.renditions.values_list("purpose", "width", "format", "key"))
    assert asset.width is not None
    assert {(p, w, f) for p, w, f, _k in rows} == images.rendition_set(asset.width)
    assert len(rows) == len(images.rendition_set(asset.width))
    assert _stored_rendition_keys(asset) == {key for *_rest, key in rows}


def _pool_children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in children.read_text().split()] if children.exists() else []


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_task_loses_nothing_and_duplicates_nothing(celery_worker_factory):
    photos = [_slow_image(seed) for seed in range(3)]
    first, first_log = celery_worker_factory("doomed", env=SHORT_VISIBILITY)
    assets = [_upload(data) for data in photos]

    def busy() -> MediaAsset | None:
        return MediaAsset.objects.filter(
            pk__in=[a.pk for a in assets], status=MediaAsset.Status.PROCESSING
        ).first()

    # An asset still processing 0.3 s after it was seen processing: well into decoding and
    # encoding (each takes ~1.5 s). One that finished meanwhile is passed over for the next.
    victim = None
    deadline = time.monotonic() + 30
    while victim is None and time.monotonic() < deadline:
        candidate = busy()
        if candidate is None:
            time.sleep(0.05)
            continue
        time.sleep(0.3)
        if _status(candidate) == MediaAsset.Status.PROCESSING:
            victim = candidate
    assert victim is not None, first_log.read_text()[-3000:]
    os.killpg(first.pid, signal.SIGKILL)  # the whole worker: parent and pool, no goodbye
    first.wait(timeout=10)
    assert victim is not None and _status(victim) == MediaAsset.Status.PROCESSING  # died mid-task

    # A new worker finds the unacknowledged message once its visibility timeout has passed.
    time.sleep(int(SHORT_VISIBILITY["CELERY_BROKER_VISIBILITY_TIMEOUT"]))
    _second, second_log = celery_worker_factory("survivor", env=SHORT_VISIBILITY)
    done = _wait_for(lambda: all(_status(asset) == MediaAsset.Status.READY for asset in assets), 90)
    assert done, second_log.read_text()[-4000:]
    for asset in assets:
        _assert_one_set_of_renditions(asset)
    assert "Traceback" not in second_log.read_text()


@pytest.mark.django_db(transaction=True)
def test_a_pool_process_killed_mid_task_is_redelivered_at_once(celery_worker_factory):
    worker, log = celery_worker_factory("pool")
    asset = _upload(_slow_image(7))
    assert _wait_for(lambda: _status(asset) == MediaAsset.Status.PROCESSING, 30), log.read_text()
    time.sleep(0.3)
    (child,) = _pool_children(worker.pid)
    os.kill(child, signal.SIGKILL)  # e.g. the kernel's OOM killer
    # reject_on_worker_lost: the parent puts the message back; a fresh pool process takes it.
    assert _wait_for(lambda: _status(asset) == MediaAsset.Status.READY, 60), log.read_text()[-4000:]
    assert "WorkerLostError" in log.read_text() or "signal 9" in log.read_text()
    _assert_one_set_of_renditions(asset)


@pytest.mark.django_db(transaction=True)
def test_uploads_during_a_redis_outage_all_end_ready(celery_worker_factory, caplog):
    from media.tasks import media_asset_sweep_stuck_task

    stack = require_stack()
    redis = stack._redis()
    _worker, log = celery_worker_factory("steady", queues="celery,media,maintenance")
    before = _upload(encoded(Image.new("RGB", (640, 480), (10, 120, 200)), "JPEG"))
    assert _wait_for(lambda: _status(before) == MediaAsset.Status.READY, 30), log.read_text()

    process = redis.process()
    assert process is not None
    stop_groups([process])
    try:
        assert _wait_for(lambda: not ping(redis.port), 10)
        # The uploads themselves succeed; only queueing their processing fails (and is logged).
        during = [
            _upload(encoded(Image.new("RGB", (640 + i, 480), (200, 40, 40)), "JPEG"))
            for i in range(3)
        ]
        assert "the stuck-media sweeper will" in caplog.text
        time.sleep(2)  # a while without a broker
        assert all(_status(asset) == MediaAsset.Status.PENDING for asset in during)
    finally:
        stack.start(["redis"])  # always: the rest of the session needs it
    assert ping(redis.port)

    # What beat does every few minutes; Redis came back empty (no persistence), so only the
    # sweeper can know about these uploads.
    assert _wait_for(lambda: _send_sweep(media_asset_sweep_stuck_task), 30)
    done = _wait_for(lambda: all(_status(asset) == MediaAsset.Status.READY for asset in during), 90)
    assert done, log.read_text()[-4000:]
    for asset in during:
        _assert_one_set_of_renditions(asset)


def _send_sweep(task) -> bool:
    try:
        task.apply_async(kwargs={"older_than_minutes": 0})
    except Exception:  # the client's connection is still coming back
        return False
    return True


@pytest.mark.django_db(transaction=True)
def test_a_build_whose_worker_died_is_taken_over_once_its_claim_is_older_than_the_time_limit(
    celery_worker_factory,
):
    from media.tasks import media_asset_sweep_stuck_task

    # Runs may last 15 s here; the broker's visibility timeout stays its default (minutes), so
    # only the claim's age can bring the work back quickly.
    limits = {"MEDIA_TASK_TIME_LIMIT": "15"}
    first, first_log = celery_worker_factory("claimed", env=limits)
    asset = _upload(_slow_image(11))
    assert _wait_for(lambda: _status(asset) == MediaAsset.Status.PROCESSING, 30), (
        first_log.read_text()[-3000:]
    )
    time.sleep(0.3)  # decoding, some renditions perhaps written
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    killed_at = time.monotonic()
    claimed = MediaAsset.objects.get(pk=asset.pk)
    assert claimed.status == MediaAsset.Status.PROCESSING and claimed.build_token

    _second, log = celery_worker_factory("sweeper", env=limits)

    def swept_and_ready() -> bool:
        # What beat does every minute: the sweeper queues it again once the claim is stale.
        if _status(asset) == MediaAsset.Status.READY:
            return True
        _send_sweep_default(media_asset_sweep_stuck_task)
        time.sleep(1)
        return _status(asset) == MediaAsset.Status.READY

    assert _wait_for(swept_and_ready, 90, interval=1), log.read_text()[-4000:]
    waited = time.monotonic() - killed_at
    assert 15 <= waited < 90  # the claim's age, not the 10 minutes of the old sweeper
    _assert_one_set_of_renditions(asset)
    asset.refresh_from_db()
    assert asset.interrupted_runs == 0 and asset.build_token == ""


def _send_sweep_default(task) -> bool:
    try:
        task.apply_async()  # the sweeper's own threshold: a run's time limit
    except Exception:
        return False
    return True
