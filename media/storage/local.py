"""Media on local disk (the embedded default): signed, expiring URLs and the file a URL names.

Local media goes through the same gate as S3. A page hands out ``/media/<key>?e=<expiry>&s=<sig>``
only after its visibility check, exactly as it would hand out a presigned S3 URL:

* ``s`` is an HMAC-SHA256 of the key and the expiry (``e``, Unix seconds) under the site's
  ``SECRET_KEY`` (or one of ``SECRET_KEY_FALLBACKS`` while keys rotate). A bare path, an edited
  key (say, an original's derived from a rendition's) or an edited expiry has no valid signature.
* Like ``media.storage.signing``, URLs are signed as of the start of a window half the expiry
  long, so every page in the window hands out the same URL (browsers cache it) and a URL stays
  valid at least half the expiry after it was issued (``MEDIA_URL_EXPIRY_SECONDS``, and the
  shorter ``MEDIA_URL_EXPIRY_SECRET_SECONDS`` for pins on secret boards).
* Only ``renditions/`` and ``originals/`` keys inside ``MEDIA_ROOT`` are ever served. Originals
  are downloads (``Content-Disposition: attachment``) like on S3, and no page links to one.

``media.views.media_file`` serves the file and answers 404 for anything that fails a check:
a URL that cannot be used is indistinguishable from one for a file that does not exist.
"""

from __future__ import annotations

import hmac
import posixpath
import time
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.utils.crypto import salted_hmac

from media.storage.signing import window_start

SALT = "pinsite.media.local-url"
SERVED_PREFIXES = ("renditions/", "originals/")
CONTENT_TYPES = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "avif": "image/avif",
    "mp4": "video/mp4",
    "webm": "video/webm",
    "mov": "video/quicktime",
}


def _signature(key: str, expires_at: int, secret: str) -> str:
    return salted_hmac(SALT, f"{key}\n{expires_at}", secret=secret, algorithm="sha256").hexdigest()


def signed_url(*, key: str, expires: int, now: float | None = None) -> str:
    """``/media/<key>?e=..&s=..``: stable for the window ``now`` is in, valid >= expires/2 s."""
    start = window_start(time.time() if now is None else now, expires)
    expires_at = int(start.timestamp()) + expires
    signature = _signature(key, expires_at, settings.SECRET_KEY)
    return f"{settings.MEDIA_URL}{quote(key)}?e={expires_at}&s={signature}"


def signature_valid(*, key: str, expires_at: str, signature: str, now: float | None = None) -> bool:
    """Whether ``signature`` signs ``key`` until ``expires_at`` and that moment is still ahead."""
    if not expires_at.isascii() or not expires_at.isdigit() or len(expires_at) > 12:
        return False
    if int(expires_at) <= (time.time() if now is None else now):
        return False
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return any(
        hmac.compare_digest(_signature(key, int(expires_at), secret), signature)
        for secret in secrets
    )


def file_path(*, key: str) -> Path | None:
    """The file under ``MEDIA_ROOT`` that ``key`` names, or None when the key could name
    anything else (another folder, a parent, an absolute path, a device)."""
    if (
        not key.startswith(SERVED_PREFIXES)
        or "\\" in key
        or "\x00" in key
        or posixpath.normpath(key) != key
        or any(part in {"", ".", ".."} for part in key.split("/"))
    ):
        return None
    root = Path(settings.MEDIA_ROOT).resolve()
    path = (root / key).resolve()
    if not path.is_relative_to(root):  # a symlink pointing out of the media folder
        return None
    return path


def content_type(*, key: str) -> str:
    """The type the file was stored as: keys carry the extension of the sniffed format."""
    return CONTENT_TYPES.get(
        posixpath.splitext(key)[1].lstrip(".").lower(), "application/octet-stream"
    )


def is_original(*, key: str) -> bool:
    return key.startswith("originals/")
