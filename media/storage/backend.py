"""The media bucket as a Django storage: private objects, URLs signed by pinsite's signer."""

from __future__ import annotations

from contextvars import ContextVar

from storages.backends.s3 import S3Storage

# The storage class originals are written with (``media.storage.put_bytes`` sets it for one
# write; None: the bucket's default, STANDARD). INTELLIGENT_TIERING when S3 decides the tiers.
original_storage_class: ContextVar[str | None] = ContextVar("original_storage_class", default=None)


class MediaStorage(S3Storage):
    """django-storages' S3 backend with pinsite's object headers.

    Originals are downloads (``Content-Disposition: attachment``), so a file that fooled the
    format check can never render as a page on the bucket's origin; renditions show inline and
    may be cached for long, since a rendition key always holds the same derivative.
    """

    def get_object_parameters(self, name: str) -> dict:
        params = super().get_object_parameters(name)
        if name.startswith("originals/"):
            params.setdefault("ContentDisposition", "attachment")
            params.setdefault("CacheControl", "private, max-age=86400")
            storage_class = original_storage_class.get()
            if storage_class:
                params.setdefault("StorageClass", storage_class)
        elif name.startswith("renditions/"):
            params.setdefault("ContentDisposition", "inline")
            params.setdefault("CacheControl", "private, max-age=31536000, immutable")
        return params
