"""The access signal tiering decides by: how often each asset is read, counted without a
database write on the request path.

**What counts.** The app counts an access when it hands out a URL for an asset's large view or
video (the pin page: ``record``) or reads its original (the worker). Grid thumbnails do not count:
they are never tiered. This is URL *issuance*, not reads: a URL handed out may never be loaded,
one load may be a cached copy, and a pin page view counts for the asset's original too although
the page never loads it. It over-counts, which errs towards not demoting. S3 server access logs
(``tiering_access_log_ingest``, every 15 minutes from beat) count the GETs S3 actually served, per
object: the truer signal. Where they are configured (``TIER_ACCESS_LOG_BUCKET``) they replace
the URL counts, which are then not kept.

**How.** With Redis (``REDIS_URL``), ``record`` sends one pipelined ``HINCRBY`` per asset on the
page in one round trip, with a short socket timeout (``TIER_ACCESS_REDIS_TIMEOUT``); if Redis is
down the count is lost, the page renders anyway, and the failure is logged once a minute at
most. A failure opens the process's circuit breaker for this counter (``pinsite.breaker``): for
``BREAKER_OPEN_SECONDS`` Redis is not asked at all, then one page's count probes it, so a hung
Redis costs one page the timeout per interval, not every page. Every minute ``tiering.tasks.tiering_access_flush_task`` RENAMEs the hash (atomic: counts arriving
meanwhile start a new one) and folds it into the rows, a batch at a time, with one UPDATE per
batch: ``reads_total``, ``last_accessed_at`` (the flush time, so within a minute) and ``read_rate``
(reads a month, exponentially weighted with a 30-day half-life, as of ``read_rate_at``).

**Without Redis** (the embedded default) counts are kept in the web process and a daemon thread
of that process folds them into the rows every minute, off the request path. Counts of the last
minute are lost when the process stops, and each process counts its own pages.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from urllib.parse import unquote

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from media import storage
from media.models import MediaAsset, MediaRendition
from pinsite.breaker import CircuitBreaker, breaker

logger = logging.getLogger(__name__)

HASH_KEY = "pinsite:tier:access"
FLUSHING_PREFIX = "pinsite:tier:access:flushing:"
LOCK_KEY = "pinsite:tier:access:lock"
FLUSH_LOCK_SECONDS = 300  # longer than a flush can take (the task's hard limit)
FLUSH_SECONDS = 60
BATCH = 1000
HALF_LIFE_DAYS = 30.0
# A read adds this much to the rate (reads a month): a steady r reads a month converge to r.
READ_WEIGHT = math.log(2) / HALF_LIFE_DAYS * 30.0
DOWN_LOG_SECONDS = 60.0

_redis_client = None
_redis_lock = threading.Lock()
_last_down_log = 0.0
_local_counts: Counter[int] = Counter()
_local_lock = threading.Lock()
_local_flusher: threading.Thread | None = None


def _redis():
    """A Redis client with short timeouts (one per process), or None without REDIS_URL."""
    global _redis_client
    url = settings.REDIS_URL
    if not url:
        return None
    with _redis_lock:
        if _redis_client is None or _redis_client[0] != url:
            import redis

            timeout = settings.TIER_ACCESS_REDIS_TIMEOUT
            client = redis.Redis.from_url(
                url, socket_timeout=timeout, socket_connect_timeout=timeout, retry_on_timeout=False
            )
            _redis_client = (url, client)
        return _redis_client[1]


def redis_breaker() -> CircuitBreaker:
    """After Redis failed to answer, counts are dropped without asking it for a while: a hung
    Redis would otherwise cost every pin page the full socket timeout."""
    return breaker("redis access counts")


def record(asset_ids: Iterable[int]) -> None:
    """Count one access for each asset: fire-and-forget, never raises, never writes the DB."""
    counts = Counter(int(pk) for pk in asset_ids if pk)
    if not counts or settings.TIER_ACCESS_LOG_BUCKET:
        return  # with S3 access logs configured, the logs are the signal
    client = _redis()
    if client is None:
        with _local_lock:
            _local_counts.update(counts)
        _local_flusher_start()
        return
    global _last_down_log
    gate = redis_breaker()
    if not gate.allow():
        return  # Redis failed moments ago: this view's count is lost, the page is not slowed
    try:
        pipe = client.pipeline(transaction=False)
        for pk, n in counts.items():
            pipe.hincrby(HASH_KEY, str(pk), n)
        pipe.execute()
    except Exception as error:  # Redis down or slow: the page matters more than the count
        gate.failed(error)
        now = time.monotonic()
        if now - _last_down_log > DOWN_LOG_SECONDS:
            _last_down_log = now
            logger.warning("access counts are being lost: Redis did not answer (%s)", error)
    else:
        gate.succeeded()


def tiering_access_flush(*, now: datetime | None = None) -> int:
    """Fold the counted accesses into the rows; returns how many assets were updated.

    With Redis: the hash is renamed first, so no count is read twice or lost to a concurrent
    ``record``; a flush that fails leaves its renamed hash, and the next flush takes it up.
    """
    now = now or timezone.now()
    client = _redis()
    if client is None:
        with _local_lock:
            counts = dict(_local_counts)
            _local_counts.clear()
        return _apply(counts, now=now)

    # One flush at a time: two would both take up a hash a dead flush left.
    token = uuid.uuid4().hex
    if not client.set(LOCK_KEY, token, nx=True, ex=FLUSH_LOCK_SECONDS):
        return 0
    try:
        return _flush_redis(client, now=now)
    finally:
        if client.get(LOCK_KEY) == token.encode():
            client.delete(LOCK_KEY)


def _flush_redis(client, *, now: datetime) -> int:
    import redis

    pending = [key.decode() for key in client.scan_iter(match=FLUSHING_PREFIX + "*", count=100)]
    fresh = FLUSHING_PREFIX + uuid.uuid4().hex
    try:
        client.rename(HASH_KEY, fresh)
        pending.append(fresh)
    except redis.ResponseError:
        pass  # nothing counted since the last flush
    updated = 0
    for key in pending:
        cursor = 0
        while True:
            cursor, chunk = client.hscan(key, cursor, count=BATCH)
            if chunk:
                counts = {int(field): int(value) for field, value in chunk.items()}
                updated += _apply(counts, now=now)
                client.hdel(key, *chunk.keys())
            if cursor == 0:
                break
        client.delete(key)
    return updated


def _apply(counts: dict[int, int], *, now: datetime) -> int:
    """Add ``counts`` to the rows, BATCH assets per transaction and UPDATE statement."""
    updated = 0
    ids = sorted(counts)
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        with transaction.atomic():
            rows = list(
                MediaAsset.objects.select_for_update()
                .filter(pk__in=chunk)
                .only("pk", "read_rate", "read_rate_at", "reads_total", "last_accessed_at")
                .order_by("pk")
            )
            for asset in rows:
                reads = counts[asset.pk]
                asset.read_rate = rate_decayed(asset.read_rate, asset.read_rate_at, now) + (
                    reads * READ_WEIGHT
                )
                asset.read_rate_at = now
                asset.reads_total += reads
                asset.last_accessed_at = max(now, asset.last_accessed_at or now)
            MediaAsset.objects.bulk_update(
                rows,
                ["read_rate", "read_rate_at", "reads_total", "last_accessed_at"],
                batch_size=BATCH,
            )
        updated += len(rows)
    return updated


def rate_decayed(rate: float, rate_at: datetime | None, now: datetime) -> float:
    """``rate`` as of ``rate_at``, decayed to ``now`` (30-day half-life)."""
    if not rate or rate_at is None:
        return rate or 0.0
    days = max((now - rate_at).total_seconds() / 86400.0, 0.0)
    return rate * 0.5 ** (days / HALF_LIFE_DAYS)


def _local_flusher_start() -> None:
    """The embedded default's flusher: a daemon thread of the web process, once a minute."""
    global _local_flusher
    if _local_flusher is not None and _local_flusher.is_alive():
        return
    with _local_lock:
        if _local_flusher is not None and _local_flusher.is_alive():
            return
        _local_flusher = threading.Thread(
            target=_local_flush_loop, name="tier-access-flush", daemon=True
        )
        _local_flusher.start()


def _local_flush_loop() -> None:
    from django.db import connection

    while True:
        time.sleep(FLUSH_SECONDS)
        if settings.REDIS_URL:
            return  # the beat task flushes Redis
        try:
            tiering_access_flush()
        except Exception:
            logger.warning("could not write access counts", exc_info=True)
        finally:
            connection.close()


# --- S3 server access logs: the truer signal, where configured ------------------------------

# bucket_owner bucket [time] remote_ip requester request_id operation key "request" status ...
_LOG_LINE = re.compile(r'^\S+ (\S+) \[[^\]]*\] \S+ \S+ \S+ (\S+) (\S+) "[^"]*" (\d{3}) ')
MARKER_NAME = ".pinsite-ingested"  # under the prefix: the last log object counted
LOGS_PER_RUN = 2000


def log_reads(text: str, *, bucket: str) -> Counter[str]:
    """Successful GETs per object key in one S3 server access log file of ``bucket``."""
    reads: Counter[str] = Counter()
    for line in text.splitlines():
        match = _LOG_LINE.match(line)
        if match is None:
            continue
        log_bucket, operation, key, status = match.groups()
        if log_bucket == bucket and operation == "REST.GET.OBJECT" and status in {"200", "206"}:
            reads[unquote(key)] += 1
    return reads


def tiering_access_log_ingest(*, now: datetime | None = None) -> int:
    """Count the reads S3 logged for the media bucket's originals, large views and videos into
    the rows (as ``flush`` does); returns how many log objects were read.

    Reads the log objects delivered under ``TIER_ACCESS_LOG_PREFIX`` in ``TIER_ACCESS_LOG_BUCKET``
    after the last one counted (kept in an object named ``.pinsite-ingested`` under the prefix),
    so a second run counts nothing again. A run stopped between folding a log in and moving the
    marker counts that log twice when it resumes: an over-count, which errs towards not moving.
    """
    bucket, prefix = settings.TIER_ACCESS_LOG_BUCKET, settings.TIER_ACCESS_LOG_PREFIX
    if not bucket or not storage.is_s3():
        return 0
    now = now or timezone.now()
    marker_key = prefix + MARKER_NAME
    after = (storage.read_text(bucket=bucket, key=marker_key) or "").strip()
    keys = [
        key
        for key in storage.log_keys_after(
            bucket=bucket, prefix=prefix, after=after, limit=LOGS_PER_RUN
        )
        if key != marker_key
    ]
    media_bucket = settings.AWS_STORAGE_BUCKET_NAME
    for key in keys:
        reads = log_reads(storage.read_text(bucket=bucket, key=key) or "", bucket=media_bucket)
        _apply(_reads_by_asset(reads), now=now)
        storage.write_text(bucket=bucket, key=marker_key, text=key)
    return len(keys)


def _reads_by_asset(reads: Counter[str]) -> dict[int, int]:
    """Log reads per asset: of its original, large view or video (grid thumbnails never tier)."""
    counts: Counter[int] = Counter()
    keys = list(reads)
    for start in range(0, len(keys), BATCH):
        chunk = keys[start : start + BATCH]
        for pk, key in MediaAsset.objects.filter(original_key__in=chunk).values_list(
            "pk", "original_key"
        ):
            counts[pk] += reads[key]
        for asset_id, key in MediaRendition.objects.filter(
            key__in=chunk,
            purpose__in=[MediaRendition.Purpose.LARGE, MediaRendition.Purpose.VIDEO],
        ).values_list("asset_id", "key"):
            counts[asset_id] += reads[key]
    return dict(counts)
