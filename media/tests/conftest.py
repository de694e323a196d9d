"""Fixtures for the media pipeline's tests: Debian tools that prove what a file holds."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from stack.errors import StackError
from stack.pytest_plugin import in_ci
from stack.stack import apt_install

EXIFTOOL_PACKAGE = "libimage-exiftool-perl"
# Ghostscript's ICC profiles (data only; no Ghostscript): a CMYK and wide-gamut RGB profiles.
ICC_PACKAGE = "libgs-common"
ICC_DIR = Path("/usr/share/color/icc/ghostscript")


@pytest.fixture(scope="session")
def debian_test_tools() -> None:
    """Install exiftool and the ICC profiles with apt when missing (as root); one apt run.

    With CI=true a missing tool fails the tests that need it; elsewhere they are skipped.
    """
    missing = []
    if shutil.which("exiftool") is None:
        missing.append(EXIFTOOL_PACKAGE)
    if not (ICC_DIR / "default_cmyk.icc").exists():
        missing.append(ICC_PACKAGE)
    try:
        apt_install(missing)
    except StackError as error:
        if in_ci():
            pytest.fail(f"test tools unavailable (CI=true): {error}", pytrace=False)
        pytest.skip(f"needs {' '.join(missing)}: {str(error).splitlines()[0]}")


@pytest.fixture(scope="session")
def icc_profiles(debian_test_tools) -> Path:
    return ICC_DIR


class ExifTool:
    """exiftool's view of a file: every tag it finds, grouped by where it lives (-G1)."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.count = 0

    def tags(self, *files: bytes) -> list[dict[str, object]]:
        """Every tag of each file (one exiftool run for all: perl starts slowly)."""
        paths = []
        for data in files:
            self.count += 1
            path = self.tmp_path / f"exiftool-{self.count}"
            path.write_bytes(data)
            paths.append(str(path))
        done = subprocess.run(
            ["exiftool", "-j", "-a", "-G1", "-n", *paths],
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(done.stdout)

    def metadata(self, *files: bytes) -> list[dict[str, object]]:
        """Per file, the tags that carry information beyond the pixels: EXIF, GPS, XMP, IPTC,
        comments and other text; not the file's structure (size, colour type, ICC, JFIF)."""
        structural = {"ExifTool", "System", "File", "JFIF", "PNG", "RIFF", "GIF", "Composite"}
        return [
            {
                name: value
                for name, value in tags.items()
                if name != "SourceFile"
                and name.partition(":")[0] not in structural
                and not name.startswith("ICC")
            }
            for tags in self.tags(*files)
        ]


@pytest.fixture
def exiftool(debian_test_tools, tmp_path) -> ExifTool:
    return ExifTool(tmp_path)


@pytest.fixture
def s3(services):
    """The session's S3 server's client (moto over HTTP), as the media storage uses it."""
    from media import storage

    if not storage.is_s3():
        pytest.fail("the session's S3 server is not configured")
    return storage._client()


VERSIONED_BUCKET = "pinsite-versions-test"


@pytest.fixture
def versioned_bucket(s3, settings):
    """The media storage on a versioned bucket of the session's S3 server (as provisioning
    makes it): its name. ``versions(key)`` lists what the bucket still keeps of exactly ``key``."""
    if VERSIONED_BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=VERSIONED_BUCKET)
        s3.put_bucket_versioning(
            Bucket=VERSIONED_BUCKET, VersioningConfiguration={"Status": "Enabled"}
        )
    default = settings.STORAGES["default"]
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {**default, "OPTIONS": {**default["OPTIONS"], "bucket_name": VERSIONED_BUCKET}},
    }
    settings.AWS_STORAGE_BUCKET_NAME = VERSIONED_BUCKET
    return VERSIONED_BUCKET


def object_versions(client, bucket: str, key: str) -> list[dict]:
    """Every version and delete marker the bucket keeps of exactly ``key``."""
    reply = client.list_object_versions(Bucket=bucket, Prefix=key)
    return [
        entry
        for entry in [*reply.get("Versions", []), *reply.get("DeleteMarkers", [])]
        if entry["Key"] == key
    ]
