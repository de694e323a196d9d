"""Uploaded bytes that were not kept are gone from a versioned bucket, every version: confirmed,
refused and swept direct uploads, originals replaced by a cleaned master, a purged asset, and
the partial renditions a killed run left behind (session S3 server over HTTP, moto)."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import timedelta

import pytest
import requests
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.tests.factories import make_user
from media import services, storage, video
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


def _clip_with_location(tmp_path) -> bytes:
    """An MP4 made by the ffmpeg tool the way phones tag theirs: a location, make and model."""
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        pytest.fail("needs Debian's ffmpeg (ffmpeg and ffprobe)", pytrace=False)
    path = tmp_path / "phone.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y",
         "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10:duration=2",
         "-f", "lavfi", "-i", "sine=duration=2",
         "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
         "-metadata", "location=+48.8582+002.2945/", "-metadata", "make=PinsiteCam",
         "-metadata", "model=PinsitePhone 9", "-movflags", "use_metadata_tags", str(path)],
        check=True,
    )  # fmt: skip
    data = path.read_bytes()
    assert {"location", "make", "model"} <= set(_tags(data, tmp_path))  # the premise
    return data


def _tags(data: bytes, tmp_path) -> dict[str, str]:
    """Every container and stream tag ffprobe reads from ``data``."""
    path = tmp_path / "probe.bin"
    path.write_bytes(data)
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-show_chapters",
         "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    found = json.loads(done.stdout)
    tags = dict(found.get("format", {}).get("tags", {}))
    for stream in found.get("streams", []):
        tags.update(stream.get("tags", {}))
    return tags


def _every_version(s3, bucket: str, keys: list[str]) -> list[bytes]:
    blobs = []
    for key in keys:
        for entry in object_versions(s3, bucket, key):
            if "Size" in entry:  # not a delete marker
                reply = s3.get_object(Bucket=bucket, Key=key, VersionId=entry["VersionId"])
                blobs.append(reply["Body"].read())
    return blobs


def _assert_untagged(blobs: list[bytes], tmp_path) -> None:
    assert blobs
    for data in blobs:
        tags = {name.lower(): value for name, value in _tags(data, tmp_path).items()}
        assert not {"location", "location-eng", "make", "model"} & set(tags), tags
        assert b"48.8582" not in data and b"PinsiteCam" not in data


@pytest.mark.parametrize("path", ["direct", "app"])
def test_no_version_of_a_videos_objects_keeps_its_location_or_camera(
    s3, versioned_bucket, tmp_path, path
):
    user = make_user()
    clip = _clip_with_location(tmp_path)
    if path == "direct":
        pending, form = services.upload_start(owner=user, media_type="video")
        fields = {**form["fields"], "Content-Type": "video/mp4"}
        requests.post(form["url"], data=fields, files={"file": ("x", clip)}, timeout=10)
        asset = services.upload_confirm(owner=user, upload_id=pending.pk)
        uploaded = [pending.key]
    else:
        asset = services.media_asset_create(owner=user, data=clip)
        uploaded = []
    processed = services.media_asset_process(asset_id=asset.pk)
    assert processed is not None and processed.status == MediaAsset.Status.READY
    keys = [*uploaded, asset.original_key, processed.original_key]
    keys += processed.renditions.values_list("key", flat=True)
    _assert_untagged(_every_version(s3, versioned_bucket, keys), tmp_path)
    original = storage.read_bytes(key=processed.original_key)
    assert processed.byte_size == len(original)
    info = video.probe(original)  # still the same clip, not re-encoded
    assert (info.width, info.height, info.has_audio) == (320, 240, True)
    assert abs(info.duration_ms - 2000) < 150


def test_a_cleaned_video_keeps_its_rotation_and_drops_its_tags(tmp_path):
    from media.tests.factories import video_bytes

    for container in ("mp4", "webm"):
        clip = video_bytes(
            rotation=90,
            container=container,
            codec="libx264" if container == "mp4" else "libvpx-vp9",
        )
        cleaned = video.clean_original(clip)
        before, after = video.probe(clip), video.probe(cleaned)
        assert (after.rotation, after.width, after.height) == (
            before.rotation,
            before.width,
            before.height,
        )
        assert "location" not in {name.lower() for name in _tags(cleaned, tmp_path)}
        assert "location" in {name.lower() for name in _tags(clip, tmp_path)}


def test_a_purge_also_deletes_renditions_no_row_names(s3, versioned_bucket):
    asset = services.media_asset_create(owner=make_user(), data=image_bytes(900, 600))
    # A run wrote a rendition and was killed; the asset was deleted before any run recorded it.
    stray = storage.rendition_key(
        original_key=asset.original_key, purpose="grid", width=236, fmt="webp"
    )
    storage.put_bytes(key=stray, data=b"half a thumbnail", fmt="webp")
    MediaAsset.objects.filter(pk=asset.pk).update(released_at=timezone.now())
    assert services.media_asset_purge(asset_id=asset.pk) is True
    folder = storage.rendition_folder(original_key=asset.original_key)
    reply = s3.list_object_versions(Bucket=versioned_bucket, Prefix=folder)
    assert not reply.get("Versions") and not reply.get("DeleteMarkers")
    assert object_versions(s3, versioned_bucket, asset.original_key) == []
