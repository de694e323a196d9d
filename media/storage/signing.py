"""Fast, cacheable signed read URLs for the media bucket (the storage backend is ``backend.py``).

Signed URLs are computed here with SigV4 query signing rather than through botocore's presigner,
for two reasons measured in ``make bench`` (``signing``):

* Cost. botocore builds a request object per URL; a page of 50 pins with a srcset needs 150
  URLs. The signing key is derived once per day and region, and each URL is then one HMAC.
* Cacheability. A URL signed "now" differs every second, so browsers download the same thumbnail
  again on every page view. Here every URL is signed as of the start of a time window (half the
  expiry), so all pages and all processes in that window hand out the same URL, which browsers
  cache; it still stays valid for at least half the expiry after it was issued.

The output is the same SigV4 query string botocore produces for the same time (a test compares
the two); an S3 that checks signatures (the Ceph lane of the tests) accepts it. Bucket names that
are access point ARNs are signed by botocore instead (their host names follow other rules).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    token: str | None = None


def _uri_encode(value: str, *, keep_slash: bool = False) -> str:
    return quote(value, safe="-_.~/" if keep_slash else "-_.~")


@lru_cache(maxsize=64)
def _signing_key(secret_key: str, date: str, region: str) -> bytes:
    key = hmac.new(f"AWS4{secret_key}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


@dataclass(frozen=True)
class UrlSigner:
    """Presigned GET URLs for one bucket. ``endpoint_url`` set: path-style on that endpoint;
    unset: AWS virtual-hosted style (``bucket.s3.region.amazonaws.com``)."""

    bucket: str
    region: str
    endpoint_url: str | None = None

    @property
    def _base(self) -> tuple[str, str, str]:
        """(scheme, host, path prefix)"""
        if self.endpoint_url:
            parts = urlsplit(self.endpoint_url)
            prefix = parts.path.rstrip("/") + "/" + self.bucket
            return parts.scheme, parts.netloc, prefix
        return "https", f"{self.bucket}.s3.{self.region}.amazonaws.com", ""

    def sign(
        self,
        key: str,
        *,
        credentials: Credentials,
        expires: int,
        signed_at: datetime,
        extra_query: dict[str, str] | None = None,
    ) -> str:
        """A presigned GET URL for ``key``, as of ``signed_at`` (UTC), valid ``expires`` seconds."""
        scheme, host, prefix = self._base
        path = _uri_encode(f"{prefix}/{key}", keep_slash=True)
        amz_date = signed_at.strftime("%Y%m%dT%H%M%SZ")
        date = amz_date[:8]
        scope = f"{date}/{self.region}/s3/aws4_request"
        query = {
            "X-Amz-Algorithm": ALGORITHM,
            "X-Amz-Credential": f"{credentials.access_key}/{scope}",
            "X-Amz-Date": amz_date,
            "X-Amz-Expires": str(expires),
            "X-Amz-SignedHeaders": "host",
            **(extra_query or {}),
        }
        if credentials.token:
            query["X-Amz-Security-Token"] = credentials.token
        canonical_query = "&".join(
            f"{_uri_encode(k)}={_uri_encode(v)}" for k, v in sorted(query.items())
        )
        canonical_request = "\n".join(
            ["GET", path, canonical_query, f"host:{host}", "", "host", UNSIGNED_PAYLOAD]
        )
        string_to_sign = "\n".join(
            [ALGORITHM, amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
        )
        signature = hmac.new(
            _signing_key(credentials.secret_key, date, self.region),
            string_to_sign.encode(),
            hashlib.sha256,
        ).hexdigest()
        return f"{scheme}://{host}{path}?{canonical_query}&X-Amz-Signature={signature}"


def window_start(now: float, expires: int) -> datetime:
    """The start of the signing window ``now`` falls in: windows are half the expiry long."""
    window = max(1, expires // 2)
    return datetime.fromtimestamp(now - now % window, tz=UTC)


def signed_url(
    signer: UrlSigner,
    key: str,
    *,
    credentials: Credentials,
    expires: int,
    now: float | None = None,
    disposition: str | None = None,
) -> str:
    """A URL stable for the whole window ``now`` is in, valid >= expires/2 s after it is issued."""
    extra = {"response-content-disposition": disposition} if disposition else None
    return _signed_url_cached(
        signer,
        key,
        credentials,
        expires,
        window_start(time.time() if now is None else now, expires),
        tuple(sorted(extra.items())) if extra else (),
    )


@lru_cache(maxsize=20_000)  # ~10 MB; a page needs ~150 entries per window
def _signed_url_cached(signer, key, credentials, expires, signed_at, extra) -> str:
    return signer.sign(
        key,
        credentials=credentials,
        expires=expires,
        signed_at=signed_at,
        extra_query=dict(extra) or None,
    )
