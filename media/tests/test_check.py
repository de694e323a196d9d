"""The media check against the session's S3 server (moto over HTTP) and real rows: each kind of
problem is found and repaired, a healthy set reports zeros, and the command, the task and the
staff page report the same."""

from __future__ import annotations

import io
import os
import time
from datetime import timedelta
from typing import cast
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from storages.backends.s3 import S3Storage

from accounts.tests.factories import make_user
from media import check, storage, tasks
from media import services as media_services
from media.models import MediaAsset, MediaCheckReport, PendingUpload
from media.tests.factories import image_bytes

pytestmark = pytest.mark.django_db

ZEROS = {kind: 0 for kind in check.PROBLEMS}


@pytest.fixture
def bucket(services):
    """A fresh versioned bucket as the media storage: only this test's objects are in it."""
    client = cast(S3Storage, default_storage).connection.meta.client
    name = f"pinsite-check-{time.time_ns()}"
    client.create_bucket(Bucket=name)
    client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    default = settings.STORAGES["default"]
    storages = {
        **settings.STORAGES,
        "default": {**default, "OPTIONS": {**default["OPTIONS"], "bucket_name": name}},
    }
    with override_settings(AWS_STORAGE_BUCKET_NAME=name, STORAGES=storages):
        assert storage.is_s3() and storage._bucket() == name
        yield name


@pytest.fixture
def queued():
    """Asset ids queued for processing, instead of sending them to the broker."""
    ids: list[int] = []

    def capture(args, **limits):
        ids.extend(args)

    with mock.patch.object(tasks.media_asset_process_task, "apply_async", capture):
        yield ids


def _ready_asset(owner, **image) -> MediaAsset:
    asset = media_services.media_asset_create(owner=owner, data=image_bytes(**image))
    processed = media_services.media_asset_process(asset_id=asset.pk)
    assert processed is not None and processed.status == MediaAsset.Status.READY
    return processed


def _versions(bucket: str, key: str) -> list[dict]:
    client = storage._client()
    listed = client.list_object_versions(Bucket=bucket, Prefix=key)
    return [v for v in [*listed.get("Versions", []), *listed.get("DeleteMarkers", [])]]


def test_a_healthy_set_reports_zeros(bucket):
    owner = make_user()
    first, second = _ready_asset(owner, width=800), _ready_asset(owner, width=300)
    upload = PendingUpload.objects.create(
        owner=owner,
        key=storage.upload_key_new(user_id=owner.pk),
        max_bytes=10_000,
        expires_at=timezone.now() + timedelta(minutes=10),
    )
    storage.put_bytes(key=upload.key, data=image_bytes(20, 20), fmt="jpeg")  # in flight

    report = check.media_check_run(repair=True, grace=timedelta(0))

    renditions = first.renditions.count() + second.renditions.count()
    assert report.found == ZEROS and report.repaired == ZEROS and report.problems == 0
    assert (report.assets_checked, report.renditions_checked) == (2, renditions)
    assert report.objects_listed == 2 + renditions + 1
    assert check.media_check_last() == report
    assert set(MediaAsset.objects.values_list("status", flat=True)) == {"ready"}
    assert storage.head(key=upload.key) is not None


def test_each_kind_of_problem_is_found_then_repaired(
    bucket, queued, django_capture_on_commit_callbacks
):
    owner = make_user()
    lost_rendition = _ready_asset(owner, width=900)
    gone_key = lost_rendition.renditions.order_by("width")[0].key
    storage.delete_keys(keys=[gone_key])

    lost_everything = _ready_asset(owner, width=700)
    storage.delete_keys(
        keys=[lost_everything.original_key, lost_everything.renditions.all()[0].key]
    )

    lost_original_only = _ready_asset(owner, width=500)  # still shown from its renditions
    storage.delete_keys(keys=[lost_original_only.original_key])

    stuck = media_services.media_asset_create(owner=owner, data=image_bytes(width=400))
    MediaAsset.objects.filter(pk=stuck.pk).update(updated_at=timezone.now() - timedelta(hours=1))

    orphan = "renditions/zz/zzzz/grid-236.webp"
    storage.put_bytes(key=orphan, data=b"first", fmt="webp")
    storage.put_bytes(key=orphan, data=b"second", fmt="webp")  # and a noncurrent version
    time.sleep(1.1)  # S3 dates objects to the second: make it older than a zero grace period

    found = check.media_check_run(grace=timedelta(0))
    assert found.found == {
        "originals_missing": 2,
        "renditions_missing": 2,
        "orphan_objects": 1,
        "assets_stuck": 1,
    }
    assert found.repaired == ZEROS
    assert found.examples["orphan_objects"] == [orphan]
    assert gone_key in found.examples["renditions_missing"]
    assert MediaAsset.objects.get(pk=lost_everything.pk).status == "ready"  # report only
    assert _versions(bucket, orphan) and not queued

    with django_capture_on_commit_callbacks(execute=True):  # the queueing runs after commit
        repaired = check.media_check_run(repair=True, grace=timedelta(0))
    assert repaired.found == found.found
    assert repaired.repaired == {
        "originals_missing": 1,  # lost_original_only is kept: it still shows
        "renditions_missing": 2,
        "orphan_objects": 1,
        "assets_stuck": 1,
    }
    failed = MediaAsset.objects.get(pk=lost_everything.pk)
    assert (failed.status, failed.failure_reason) == ("failed", check.LOST_REASON)
    assert MediaAsset.objects.get(pk=lost_original_only.pk).status == "ready"
    assert _versions(bucket, orphan) == []  # every version gone
    assert sorted(queued) == sorted([lost_rendition.pk, stuck.pk])

    # The queued work done, only the original nobody can bring back is left.
    for asset_id in queued:
        done = media_services.media_asset_process(asset_id=asset_id)
        assert done is not None and done.status == "ready"
    assert storage.head(key=gone_key) is not None  # rebuilt under the same key
    after = check.media_check_run(repair=True, grace=timedelta(0))
    assert after.found == {**ZEROS, "originals_missing": 1}
    assert after.examples["originals_missing"] == [lost_original_only.original_key]


def test_young_unreferenced_objects_are_left_alone(bucket):
    in_flight = "originals/2026/01/0123456789abcdef.jpg"  # written before its row, as ingest does
    storage.put_bytes(key=in_flight, data=image_bytes(20, 20), fmt="jpeg")
    report = check.media_check_run(repair=True)  # the default grace: a day
    assert report.found == ZEROS
    assert storage.head(key=in_flight) is not None


def test_the_command_prints_the_counts_and_fails_while_problems_remain(bucket):
    asset = _ready_asset(make_user(), width=300)
    out = io.StringIO()
    call_command("media_check", stdout=out)
    assert "No problems left." in out.getvalue()
    assert "Objects no row refers to (older than the grace period): 0" in out.getvalue()

    storage.delete_keys(keys=[asset.original_key, asset.renditions.all()[0].key])
    out = io.StringIO()
    with pytest.raises(CommandError, match="2 problem"):
        call_command("media_check", stdout=out)
    assert "Assets whose original is no longer stored: 1" in out.getvalue()
    assert asset.original_key in out.getvalue()
    assert MediaAsset.objects.get(pk=asset.pk).status == "ready"  # without --repair

    out = io.StringIO()
    call_command("media_check", "--repair", stdout=out)
    assert "Assets whose original is no longer stored: 1 (repaired 1)" in out.getvalue()
    assert MediaAsset.objects.get(pk=asset.pk).status == "failed"
    last = check.media_check_last()
    assert last is not None and last.trigger == MediaCheckReport.Trigger.COMMAND

    with pytest.raises(CommandError):
        call_command("media_check", "--grace-hours", "-3", stdout=io.StringIO())


def test_the_daily_task_runs_on_the_maintenance_queue_and_records_a_report(bucket):
    name = str(cast(dict, settings.CELERY_BEAT_SCHEDULE["media-check"])["task"])
    assert name == tasks.media_check_task.name == "media.tasks.media_check_task"
    assert settings.CELERY_TASK_ROUTES[name] == {"queue": "maintenance"}
    assert tasks.media_check_task.run() == 0
    last = check.media_check_last()
    assert last is not None and last.repair and last.trigger == "schedule"


def test_the_staff_page_shows_the_last_report_and_queues_a_run(bucket, client):
    url = reverse("admin:media_check")
    staff = make_user()
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    client.force_login(staff)
    assert client.get(url).status_code == 403  # staff without the permission

    staff.user_permissions.add(Permission.objects.get(codename="view_mediacheckreport"))
    page = client.get(url)
    assert page.status_code == 200
    assert b"The check has not run yet." in page.content
    assert b"Check now" not in page.content
    assert client.post(url, {"repair": "1"}).status_code == 403

    asset = _ready_asset(make_user(), width=300)
    storage.delete_keys(keys=[asset.original_key])
    check.media_check_run()
    page = client.get(url)
    assert b"1 problem found." in page.content
    assert asset.original_key.encode() in page.content

    staff.user_permissions.add(Permission.objects.get(codename="add_mediacheckreport"))
    with mock.patch.object(tasks.media_check_task, "apply_async") as send:
        answer = client.post(url, {"repair": "1"}, follow=True)
    assert send.call_args.kwargs["kwargs"] == {"repair": True, "trigger": "staff"}
    assert b"The media check is queued with repairs" in answer.content

    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("Error 111 connecting to 127.0.0.1:6379")

    with mock.patch.object(tasks.media_check_task, "apply_async", broker_down):
        answer = client.post(url, {"repair": "0"}, follow=True)
    assert answer.status_code == 200
    assert b"The task queue is not answering right now" in answer.content
    assert client.put(url).status_code == 405

    client.logout()
    assert client.get(url).status_code == 302  # to the admin login


def test_on_local_disk_the_folder_is_checked_the_same_way(tmp_path):
    """The embedded default keeps media in MEDIA_ROOT: missing files and orphans are found there."""
    local = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": tmp_path, "base_url": "/media/"},
    }
    with override_settings(
        AWS_STORAGE_BUCKET_NAME="", STORAGES={**settings.STORAGES, "default": local}
    ):
        assert not storage.is_s3()
        asset = _ready_asset(make_user(), width=300)
        assert check.media_check_run(grace=timedelta(0)).found == ZEROS

        (tmp_path / asset.renditions.all()[0].key).unlink()
        orphan = tmp_path / "originals" / "2020" / "01" / "stale.jpg"
        orphan.parent.mkdir(parents=True)
        orphan.write_bytes(b"left behind")
        os.utime(orphan, (time.time() - 3 * 86400,) * 2)  # three days old

        report = check.media_check_run(repair=True)  # the default grace: a day
        assert report.found == {**ZEROS, "renditions_missing": 1, "orphan_objects": 1}
        assert report.examples["orphan_objects"] == ["originals/2020/01/stale.jpg"]
        assert not orphan.exists()
        assert MediaAsset.objects.get(pk=asset.pk).status == "pending"  # queued for a rebuild
