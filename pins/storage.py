"""Where media bytes live: key naming, saving, URLs and deletion. No ORM here.

Keys are chosen by the server, never from a client's filename. Derivatives have deterministic keys
(derived from the original's key), so a re-run of processing overwrites nothing it should not and
finds what already exists.
"""

from __future__ import annotations

import posixpath
import uuid

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

CONTENT_TYPES = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "avif": "image/avif",
    "mp4": "video/mp4",
    "webm": "video/webm",
    "mov": "video/quicktime",
}


def original_key_new(*, fmt: str) -> str:
    """A fresh, unguessable key for an original: originals/YYYY/MM/<uuid>.<ext>."""
    now = timezone.now()
    extension = "jpg" if fmt == "jpeg" else fmt
    return f"originals/{now:%Y/%m}/{uuid.uuid4().hex}.{extension}"


def rendition_key(*, original_key: str, purpose: str, width: int, fmt: str) -> str:
    stem = posixpath.splitext(posixpath.basename(original_key))[0]
    return f"renditions/{stem[:2]}/{stem}/{purpose}-{width}.{fmt}"


def put_bytes(*, key: str, data: bytes, fmt: str) -> str:
    """Store ``data`` under exactly ``key``; return the key. Content-Type comes from the sniffed format."""
    content = ContentFile(data)
    content.content_type = CONTENT_TYPES.get(fmt, "application/octet-stream")
    if default_storage.exists(key):
        # Deterministic keys: same key means same derivative, so a re-run replaces it in place.
        default_storage.delete(key)
    saved = default_storage.save(key, content)
    if saved != key:
        raise RuntimeError(f"storage renamed {key!r} to {saved!r}; keys must be exact")
    return saved


def read_bytes(*, key: str) -> bytes:
    with default_storage.open(key, "rb") as handle:
        return handle.read()


def delete_keys(*, keys: list[str]) -> None:
    """Delete objects; a key that is already gone is not an error (deletion is re-runnable)."""
    for key in keys:
        default_storage.delete(key)


def url_for(*, key: str) -> str:
    """A URL the browser can load: a short-lived signed URL on S3, a /media/ path on local disk."""
    return default_storage.url(key)
