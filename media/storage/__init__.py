"""Where media bytes live: key naming, saving, URLs and deletion. No ORM here.

Keys are chosen by the server, never from a client's filename. Derivatives have deterministic keys
(derived from the original's key), so a re-run of processing overwrites nothing it should not and
finds what already exists.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
import uuid
from functools import lru_cache
from typing import TYPE_CHECKING, cast

from botocore.exceptions import ClientError
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from media.storage import backend, local, signing

if TYPE_CHECKING:
    from storages.backends.s3 import S3Storage

logger = logging.getLogger(__name__)

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
    return f"{rendition_folder(original_key=original_key)}{purpose}-{width}.{fmt}"


def rendition_folder(*, original_key: str) -> str:
    """The prefix every rendition of the original at ``original_key`` is stored under."""
    stem = posixpath.splitext(posixpath.basename(original_key))[0]
    return f"renditions/{stem[:2]}/{stem}/"


def put_bytes(*, key: str, data: bytes, fmt: str, storage_class: str | None = None) -> str:
    """Store ``data`` under exactly ``key``; return the key. Content-Type comes from the sniffed
    format. ``storage_class`` (an original's, on S3) defaults to the bucket's, STANDARD."""
    content = ContentFile(data)
    content.content_type = CONTENT_TYPES.get(fmt, "application/octet-stream")  # type: ignore[attr-defined]  # read by S3Storage
    if default_storage.exists(key):
        # Deterministic keys: same key means same derivative, so a re-run replaces it in place.
        default_storage.delete(key)
    token = backend.original_storage_class.set(storage_class)
    try:
        saved = default_storage.save(key, content)
    finally:
        backend.original_storage_class.reset(token)
    if saved != key:
        raise RuntimeError(f"storage renamed {key!r} to {saved!r}; keys must be exact")
    return saved


def original_key_with_format(*, key: str, fmt: str) -> str:
    """The same original's key with the extension of ``fmt`` (a converted master keeps its
    name, so its renditions' keys do not change)."""
    stem, _extension = posixpath.splitext(key)
    return f"{stem}.{'jpg' if fmt == 'jpeg' else fmt}"


def read_bytes(*, key: str) -> bytes:
    """The object's bytes. Raises FileNotFoundError when there is no such object, and
    ObjectArchived when it must be restored from an archive tier first."""
    try:
        with default_storage.open(key, "rb") as handle:
            return handle.read()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            raise FileNotFoundError(key) from error
        if _is_archived_error(error):
            raise ObjectArchived(key) from error
        raise


def delete_keys(*, keys: list[str], all_versions: bool = False) -> None:
    """Delete objects; a key that is already gone is not an error (deletion is re-runnable).

    ``all_versions`` also removes the noncurrent versions a versioned bucket keeps (for bytes
    that must not linger, e.g. an original with location metadata or a hostile file).
    """
    for key in keys:
        default_storage.delete(key)
        if all_versions:
            purge_old_versions(key=key, keep_latest=False)


def delete_folder(*, prefix: str) -> int:
    """Delete every object under ``prefix`` (ending in "/"), every version and delete marker on
    S3; returns how many entries went. For what no row names any more, e.g. the renditions a
    killed run wrote for an asset that was then deleted."""
    if not is_s3():
        folder = prefix.rstrip("/")
        try:
            _dirs, files = default_storage.listdir(folder)
        except FileNotFoundError:
            return 0
        for name in files:
            default_storage.delete(f"{folder}/{name}")
        return len(files)
    client, bucket = _client(), _bucket()
    doomed = []
    try:
        pages = client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                version = entry.get("VersionId")
                doomed.append(
                    {"Key": entry["Key"], "VersionId": version}
                    if version not in (None, "null")
                    else {"Key": entry["Key"]}
                )
        for start in range(0, len(doomed), 1000):
            client.delete_objects(Bucket=bucket, Delete={"Objects": doomed[start : start + 1000]})
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in {"AccessDenied", "NotImplemented"}:
            raise
        logger.warning("cannot list or delete the versions under %s: %s", prefix, error)
        return 0
    return len(doomed)


def purge_old_versions(*, key: str, keep_latest: bool = True) -> int:
    """Delete the noncurrent versions (and delete markers) of exactly ``key``; returns how many.

    A no-op on local disk and on unversioned buckets. The bucket's lifecycle rule would expire
    them after 30 days; this is for bytes that must go now.
    """
    if not is_s3():
        return 0
    client, bucket = _client(), _bucket()
    doomed = []
    try:
        pages = client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key)
        for page in pages:
            for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                if entry["Key"] != key or entry.get("VersionId") in (None, "null"):
                    continue
                if keep_latest and entry.get("IsLatest"):
                    continue
                doomed.append({"Key": key, "VersionId": entry["VersionId"]})
        for start in range(0, len(doomed), 1000):
            client.delete_objects(Bucket=bucket, Delete={"Objects": doomed[start : start + 1000]})
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in {"AccessDenied", "NotImplemented"}:
            raise
        # A role without s3:ListBucketVersions / s3:DeleteObjectVersion: the lifecycle rule
        # still expires noncurrent versions, later.
        logger.warning("cannot remove old versions of %s: %s", key, error)
        return 0
    return len(doomed)


def url_for(*, key: str, expires: int | None = None) -> str:
    """A URL the browser can load: a short-lived signed URL, to S3 or to /media/ on local disk.

    The URL is stable within a time window (see ``media.storage.signing`` and
    ``media.storage.local``), so browsers cache it. Call only after the visibility check for
    whatever shows the object.
    """
    expires = expires or settings.MEDIA_URL_EXPIRY_SECONDS
    if not is_s3():
        return local.signed_url(key=key, expires=expires)
    s3_signing = _s3_signing()
    if s3_signing is None:
        return default_storage.url(key)
    signer, credentials_source = s3_signing
    return signing.signed_url(
        signer,
        key,
        credentials=_frozen(credentials_source),
        expires=expires,
    )


def is_s3() -> bool:
    return bool(settings.AWS_STORAGE_BUCKET_NAME)


def _s3_storage() -> S3Storage:
    """``default_storage`` on S3: django-storages' ``S3Storage``."""
    return cast("S3Storage", default_storage)


def _client():
    """The boto3 S3 client django-storages uses (one per thread, kept alive)."""
    return _s3_storage().connection.meta.client


def _bucket() -> str:
    return _s3_storage().bucket_name


@lru_cache(maxsize=1)
def _s3_signing():
    """(signer, credentials source) for pinsite's own signer, or None to use the storage's url()."""
    if not is_s3() or settings.AWS_STORAGE_BUCKET_NAME.startswith("arn:"):
        return None
    signer = signing.UrlSigner(
        bucket=settings.AWS_STORAGE_BUCKET_NAME,
        region=settings.AWS_S3_REGION_NAME,
        endpoint_url=settings.S3_ENDPOINT_URL or None,
    )
    return signer, _s3_storage()._create_session().get_credentials()


def _frozen(source) -> signing.Credentials:
    # Refreshable credentials (instance or task roles) refresh themselves here when due.
    frozen = source.get_frozen_credentials()
    return signing.Credentials(frozen.access_key, frozen.secret_key, frozen.token)


# --- Direct uploads (S3 only) ----------------------------------------------------------------


def upload_key_new(*, user_id: int) -> str:
    """Where a browser may put one upload: uploads/<user>/<uuid>; never the client's file name."""
    return f"uploads/{user_id}/{uuid.uuid4().hex}"


def presigned_post(
    *,
    key: str,
    max_bytes: int,
    expires: int,
    media_type: str = "image",
    client=None,
    bucket: str | None = None,
) -> dict:
    """Form fields for a browser to POST one file of 1..max_bytes bytes to ``key``, whose
    Content-Type must start with ``media_type`` ("image" or "video") and a slash.

    ``client``/``bucket`` default to the media storage's (tests pass another S3's).
    """
    return (client or _client()).generate_presigned_post(
        Bucket=bucket or _bucket(),
        Key=key,
        Fields={"Content-Type": "image/jpeg" if media_type == "image" else "video/mp4"},
        Conditions=[
            ["content-length-range", 1, max_bytes],
            ["starts-with", "$Content-Type", f"{media_type}/"],
        ],
        ExpiresIn=expires,
    )


def head(*, key: str) -> dict | None:
    """{"size": bytes, "content_type": ..., "storage_class": ...} of an object, or None when
    there is none (S3 omits the class for STANDARD; it is filled in)."""
    try:
        reply = _client().head_object(Bucket=_bucket(), Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return None
        raise
    return {
        "size": reply["ContentLength"],
        "content_type": reply.get("ContentType", ""),
        "storage_class": reply.get("StorageClass") or "STANDARD",
    }


def read_range(*, key: str, length: int) -> bytes:
    reply = _client().get_object(Bucket=_bucket(), Key=key, Range=f"bytes=0-{length - 1}")
    return reply["Body"].read()


def sha256_of(*, key: str, chunk_bytes: int = 1024 * 1024) -> str:
    """SHA-256 of an object, streamed in chunks (memory stays at one chunk)."""
    digest = hashlib.sha256()
    body = _client().get_object(Bucket=_bucket(), Key=key)["Body"]
    for chunk in iter(lambda: body.read(chunk_bytes), b""):
        digest.update(chunk)
    return digest.hexdigest()


def copy(*, source: str, target: str, fmt: str, storage_class: str | None = None) -> None:
    """Server-side copy with the sniffed Content-Type and the target's headers (no bytes via us),
    into ``storage_class`` (default STANDARD)."""
    _client().copy_object(
        Bucket=_bucket(),
        Key=target,
        CopySource={"Bucket": _bucket(), "Key": source},
        MetadataDirective="REPLACE",
        ContentType=CONTENT_TYPES.get(fmt, "application/octet-stream"),
        StorageClass=storage_class or "STANDARD",
        **{
            k: v
            for k, v in _s3_storage().get_object_parameters(target).items()
            if k in {"ContentDisposition", "CacheControl", "ServerSideEncryption", "SSEKMSKeyId"}
        },
    )


# --- Storage tiers (S3 only; on local disk a tier is a label on the row) ---------------------

# Storage classes whose objects must be restored before they can be read or copied.
ARCHIVE_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})


class ObjectArchived(Exception):
    """The object sits in an archive tier (GLACIER, or an Intelligent-Tiering archive access
    tier): it must be restored before it can be read or copied."""


def _is_archived_error(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "InvalidObjectState"


def tier_change(*, key: str, tier: str) -> None:
    """Move ``key`` to storage class ``tier`` by copying it onto itself (no bytes through us).

    ``MetadataDirective=COPY`` keeps the object's Content-Type, Content-Disposition,
    Cache-Control and user metadata. A copy restarts S3's minimum-duration clock and, in a
    versioned bucket, leaves the old bytes as a noncurrent version (see ``purge_old_versions``).
    An object already in ``tier`` (a move whose row update was lost) is not an error. Raises
    ObjectArchived when it must be restored first.
    """
    client, bucket = _client(), _bucket()
    try:
        client.copy_object(
            Bucket=bucket,
            Key=key,
            CopySource={"Bucket": bucket, "Key": key},
            StorageClass=tier,
            MetadataDirective="COPY",
        )
    except ClientError as error:
        if _is_archived_error(error):
            raise ObjectArchived(key) from error
        # S3 refuses a copy onto itself that changes nothing: it is in that tier already.
        code = error.response.get("Error", {}).get("Code")
        if code == "InvalidRequest" and storage_class(key=key) == tier:
            return
        raise


def storage_class(*, key: str) -> str | None:
    """The object's storage class, or None when there is no object."""
    found = head(key=key)
    return found["storage_class"] if found else None


def bucket_versioned() -> bool:
    """Whether the media bucket keeps versions (then a tier change leaves a noncurrent copy)."""
    if not is_s3():
        return False
    try:
        status = _client().get_bucket_versioning(Bucket=_bucket()).get("Status")
    except ClientError as error:
        logger.warning("cannot read the bucket's versioning, assuming it is on: %s", error)
        return True
    return status in {"Enabled", "Suspended"}


def restore_request(*, key: str, days: int = 1, speed: str = "Standard") -> None:
    """Ask S3 to restore an archived object for ``days`` (a temporary readable copy).

    Asking again while a restore is under way, or for an object that needs none, is harmless.
    """
    try:
        _client().restore_object(
            Bucket=_bucket(),
            Key=key,
            RestoreRequest={"Days": days, "GlacierJobParameters": {"Tier": speed}},
        )
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code in {"RestoreAlreadyInProgress", "InvalidObjectState"}:
            return  # under way, or not archived (nothing to restore)
        raise


def restore_status(*, key: str) -> str:
    """ "readable" (not archived, or restored), "restoring", "archived" (no restore asked) or
    "missing". Read from HEAD's StorageClass, Restore and ArchiveStatus headers."""
    try:
        reply = _client().head_object(Bucket=_bucket(), Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return "missing"
        raise
    archived = (reply.get("StorageClass") or "STANDARD") in ARCHIVE_CLASSES or bool(
        reply.get("ArchiveStatus")
    )
    if not archived:
        return "readable"
    restore = reply.get("Restore") or ""
    if 'ongoing-request="true"' in restore:
        return "restoring"
    if 'ongoing-request="false"' in restore:
        return "readable"
    return "archived"


# --- S3 server access logs (another bucket; read by the tiering access signal) --------------


def log_keys_after(*, bucket: str, prefix: str, after: str, limit: int) -> list[str]:
    """Up to ``limit`` keys under ``prefix`` in ``bucket`` that sort after ``after``, in order
    (S3 names access logs by delivery time, so this is "the logs not read yet")."""
    keys: list[str] = []
    pages = (
        _client()
        .get_paginator("list_objects_v2")
        .paginate(Bucket=bucket, Prefix=prefix, StartAfter=after or prefix)
    )
    for page in pages:
        for entry in page.get("Contents", []):
            keys.append(entry["Key"])
            if len(keys) >= limit:
                return keys
    return keys


def read_text(*, bucket: str, key: str) -> str | None:
    """A small object's text from ``bucket``, or None when it does not exist."""
    try:
        body = _client().get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return None
        raise
    return body.decode("utf-8", errors="replace")


def write_text(*, bucket: str, key: str, text: str) -> None:
    _client().put_object(Bucket=bucket, Key=key, Body=text.encode(), ContentType="text/plain")
