"""A full disk under local media (the embedded default): the upload is refused calmly, nothing is
stored or recorded, pages keep serving, and uploads work again once there is room.

The disk is real: a 2 MiB tmpfs mounted over the media folder and filled to the last byte. Mounting
needs root (as the stack's PostgreSQL set-up does); outside CI a machine that cannot mount skips
this test with the reason, and in CI that fails the run.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from accounts.tests.factories import make_user
from media.models import MediaAsset
from media.tests.factories import image_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_disk(tmp_path):
    folder = tmp_path / "media"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        reason = f"cannot mount a small tmpfs here: {mounted.stderr.strip()}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    stores = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": folder, "base_url": "/media/"},
        },
    }
    try:
        with override_settings(AWS_STORAGE_BUCKET_NAME="", STORAGES=stores, MEDIA_ROOT=folder):
            yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as out:
        with contextlib.suppress(OSError):
            while True:
                out.write(b"\0" * 65536)
        with contextlib.suppress(OSError):
            while True:
                out.write(b"\0")
    with pytest.raises(OSError) as full:
        (folder / "probe").write_bytes(b"x" * 4096)
    assert full.value.errno == errno.ENOSPC
    (folder / "probe").unlink(missing_ok=True)
    return filler


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()} - {"filler"}


def _upload(client, color):
    photo = SimpleUploadedFile("photo.jpg", image_bytes(640, 480, color=color), "image/jpeg")
    return client.post("/pin/upload/", {"file": photo})


def test_a_full_disk_refuses_the_upload_calmly_and_keeps_nothing(client, small_disk):
    client.force_login(make_user("filler"))
    assert _upload(client, (10, 20, 30)).status_code == 201  # room: it works
    before_files, before_rows = _files(small_disk), MediaAsset.objects.count()

    filler = _fill(small_disk)
    response = _upload(client, (200, 100, 50))
    assert response.status_code == 503
    assert response.json()["error"] == (
        "The site's storage is full right now; nothing was saved. Try again later."
    )
    assert MediaAsset.objects.count() == before_rows
    assert _files(small_disk) == before_files  # no half-written original left behind
    assert client.get("/").status_code == 200  # pages do not need the disk

    filler.unlink()
    assert _upload(client, (200, 100, 50)).status_code == 201  # room again: no restart needed
    assert MediaAsset.objects.count() == before_rows + 1
