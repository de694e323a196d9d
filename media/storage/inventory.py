"""What the storage holds: every object under a prefix, with its size and age. No ORM here.

Used by the media check (``media.check``) to compare objects with rows. On S3 it pages through
ListObjectsV2 (1,000 keys a call, each call under the client's connect and read timeouts); on
local disk it walks MEDIA_ROOT. Call outside any transaction: listing a large bucket takes a while.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.core.files.storage import default_storage

from media import storage


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    modified: datetime  # aware, UTC


def objects_under(*, prefix: str) -> Iterator[StoredObject]:
    """Every current object whose key starts with ``prefix`` (noncurrent versions are not listed)."""
    if storage.is_s3():
        client, bucket = storage._client(), storage._bucket()
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for entry in page.get("Contents", []):
                yield StoredObject(entry["Key"], entry["Size"], entry["LastModified"])
        return
    root = Path(default_storage.path(""))
    top = root / prefix
    for folder, _dirs, files in os.walk(top):
        for name in files:
            path = Path(folder) / name
            try:
                info = path.stat()
            except FileNotFoundError:  # deleted while we walked
                continue
            yield StoredObject(
                path.relative_to(root).as_posix(),
                info.st_size,
                datetime.fromtimestamp(info.st_mtime, tz=UTC),
            )


def exists(*, key: str) -> bool:
    """Whether the object is there now (a HEAD on S3): confirms what a listing suggested."""
    if storage.is_s3():
        return storage.head(key=key) is not None
    return default_storage.exists(key)
