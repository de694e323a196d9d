"""Uploaded bytes that were not kept are gone from a versioned bucket, every version: confirmed,
refused and swept direct uploads, originals replaced by a cleaned master, a purged asset, and
the partial renditions a killed run left behind (session S3 server over HTTP, moto)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.tests.factories import make_user
from media import services, storage
from media.models import MediaAsset, PendingUpload
from media.tests.conftest import object_versions
from media.tests.factories import encoded, gps_exif, image_bytes, two_tone

pytestmark = pytest.mark.django_db


def _direct_upload(user, data: bytes, *, times: int = 1) -> PendingUpload:
    """Start a direct upload and post ``data`` to it ``times`` times (a browser that retried)."""
    pending, form = services.upload_start(owner=user)
    for _ in range(times):
        fields = {**form["fields"], "Content-Type": "image/jpeg"}
        reply = requests.post(form["url"], data=fields, files={"file": ("x", data)}, timeout=10)
        assert reply.status_code in (200, 201, 204)
    return pending


def test_a_confirmed_upload_leaves_no_version_of_the_uploaded_bytes(s3, versioned_bucket):
    user = make_user()
    data = encoded(two_tone(), "JPEG", exif=gps_exif().tobytes())
    pending = _direct_upload(user, data, times=2)
    assert len(object_versions(s3, versioned_bucket, pending.key)) == 2
    asset = services.upload_confirm(owner=user, upload_id=pending.pk)
    assert object_versions(s3, versioned_bucket, pending.key) == []
    assert len(object_versions(s3, versioned_bucket, asset.original_key)) == 1


def test_a_refused_upload_leaves_no_version(s3, versioned_bucket):
    user = make_user()
    pending = _direct_upload(user, b"<html>not an image</html>")
    with pytest.raises(ValidationError):
        services.upload_confirm(owner=user, upload_id=pending.pk)
    assert object_versions(s3, versioned_bucket, pending.key) == []


def test_a_swept_upload_leaves_no_version(s3, versioned_bucket):
    user = make_user()
    pending = _direct_upload(user, image_bytes())
    PendingUpload.objects.filter(pk=pending.pk).update(
        expires_at=timezone.now() - timedelta(hours=2)
    )
    assert services.upload_sweep() == 1
    assert object_versions(s3, versioned_bucket, pending.key) == []


def test_an_original_replaced_by_its_clean_master_leaves_no_version(s3, versioned_bucket):
    data = encoded(two_tone(800, 600), "HEIF", exif=gps_exif().tobytes())
    asset = services.media_asset_create(owner=make_user(), data=data)
    processed = services.media_asset_process(asset_id=asset.pk)
    assert processed is not None and processed.original_key != asset.original_key
    assert object_versions(s3, versioned_bucket, asset.original_key) == []
    (master,) = object_versions(s3, versioned_bucket, processed.original_key)
    assert master["IsLatest"]


def test_a_killed_runs_partial_renditions_leave_no_stray_version(s3, versioned_bucket):
    asset = services.media_asset_create(owner=make_user(), data=image_bytes(900, 600))
    # A run wrote a rendition (twice: a retry) and was killed before recording anything.
    key = storage.rendition_key(
        original_key=asset.original_key, purpose="grid", width=236, fmt="jpeg"
    )
    storage.put_bytes(key=key, data=b"half a thumbnail", fmt="jpeg")
    storage.put_bytes(key=key, data=b"half a thumbnail again", fmt="jpeg")
    MediaAsset.objects.filter(pk=asset.pk).update(status=MediaAsset.Status.PROCESSING)
    processed = services.media_asset_process(asset_id=asset.pk)
    assert processed is not None and processed.status == MediaAsset.Status.READY
    for rendition_key in processed.renditions.values_list("key", flat=True):
        (only,) = object_versions(s3, versioned_bucket, rendition_key)
        assert only["IsLatest"] and "Size" in only  # one version, no delete marker
    assert storage.read_bytes(key=key)[:2] == b"\xff\xd8"  # a real JPEG now


def test_a_purged_asset_leaves_no_version(s3, versioned_bucket):
    asset = services.media_asset_create(owner=make_user(), data=image_bytes(900, 600))
    processed = services.media_asset_process(asset_id=asset.pk)
    assert processed is not None
    keys = [processed.original_key, *processed.renditions.values_list("key", flat=True)]
    MediaAsset.objects.filter(pk=asset.pk).update(released_at=timezone.now())
    assert services.media_asset_purge(asset_id=asset.pk) is True
    assert all(object_versions(s3, versioned_bucket, key) == [] for key in keys)
    assert not MediaAsset.objects.filter(pk=asset.pk).exists()
