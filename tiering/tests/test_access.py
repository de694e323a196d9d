"""Counting accesses for tiering: Redis counters on the request path, flushed into the rows.

Against the session's Redis; "Redis down" is a port nothing listens on.
"""

from __future__ import annotations

import logging
import socket
from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings

from accounts.tests.factories import make_user
from boards.tests.factories import make_board
from media.models import MediaAsset
from media.tests.factories import make_asset
from pins.tests.factories import make_pin
from tiering import access

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_client(services):
    client = access._redis()
    client.delete(access.HASH_KEY, access.LOCK_KEY)
    for key in client.scan_iter(match=access.FLUSHING_PREFIX + "*"):
        client.delete(key)
    return client


def test_counts_go_to_redis_and_a_flush_folds_them_into_the_rows_once(redis_client):
    a, b = make_asset(), make_asset()
    access.record([a.pk, a.pk, b.pk])
    access.record([a.pk])
    assert redis_client.hgetall(access.HASH_KEY) == {
        str(a.pk).encode(): b"3",
        str(b.pk).encode(): b"1",
    }
    assert access.tiering_access_flush(now=NOW) == 2
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.reads_total, b.reads_total) == (3, 1)
    assert a.last_accessed_at == NOW and a.read_rate_at == NOW
    assert a.read_rate == pytest.approx(3 * access.READ_WEIGHT)
    assert not redis_client.exists(access.HASH_KEY)
    assert access.tiering_access_flush(now=NOW) == 0  # nothing counted twice

    # A month later, one more read: the old rate has halved, the new read is added.
    later = NOW + timedelta(days=30)
    access.record([a.pk])
    access.tiering_access_flush(now=later)
    a.refresh_from_db()
    assert a.read_rate == pytest.approx(3 * access.READ_WEIGHT / 2 + access.READ_WEIGHT)
    assert a.reads_total == 4 and a.last_accessed_at == later


def test_a_steady_read_rate_converges_to_itself():
    rate, at = 0.0, NOW
    for day in range(1, 721):  # two reads a month for two years, one every 15 days
        now = NOW + timedelta(days=day)
        if day % 15 == 0:
            rate = access.rate_decayed(rate, at, now) + access.READ_WEIGHT
            at = now
    assert rate == pytest.approx(2.0, rel=0.25)


def test_a_flush_that_died_is_taken_up_by_the_next(redis_client):
    asset = make_asset()
    access.record([asset.pk, asset.pk])
    redis_client.rename(access.HASH_KEY, access.FLUSHING_PREFIX + "died")
    access.record([asset.pk])  # counted meanwhile, in a fresh hash
    assert access.tiering_access_flush(now=NOW) == 2  # both hashes (the same asset each time)
    asset.refresh_from_db()
    assert asset.reads_total == 3
    assert not list(redis_client.scan_iter(match=access.FLUSHING_PREFIX + "*"))


def test_counts_of_assets_deleted_meanwhile_are_dropped(redis_client):
    asset = make_asset()
    access.record([asset.pk, 987654321])
    assert access.tiering_access_flush(now=NOW) == 1
    assert not redis_client.exists(access.HASH_KEY)


def test_with_redis_down_the_page_renders_and_the_loss_is_logged_once(services, client, caplog):
    owner = make_user()
    pin = make_pin(owner, make_board(owner))
    with override_settings(REDIS_URL="redis://127.0.0.1:9/0"), caplog.at_level(logging.WARNING):
        access._last_down_log = 0.0
        for _ in range(3):
            assert client.get(pin.get_absolute_url()).status_code == 200
    lost = [r for r in caplog.records if "access counts are being lost" in r.getMessage()]
    assert len(lost) == 1
    assert MediaAsset.objects.get(pk=pin.media_id).reads_total == 0


def test_after_redis_hangs_it_is_not_asked_again_for_a_while(services, monkeypatch):
    """A hung Redis (here a socket that accepts and never answers) costs one page the socket
    timeout; the pages after it skip the count until the back-off runs out."""
    hung = socket.create_server(("127.0.0.1", 0))
    try:
        with override_settings(REDIS_URL=f"redis://127.0.0.1:{hung.getsockname()[1]}/0"):
            client = access._redis()
            asked = []
            pipeline = client.pipeline

            def counted(**options):
                asked.append(1)
                return pipeline(**options)

            monkeypatch.setattr(client, "pipeline", counted)
            access.redis_breaker().reset()
            for _ in range(3):
                access.record([1])
            assert len(asked) == 1
            assert access.redis_breaker().state == "open"
            access.redis_breaker()._open_until = 0.0  # the interval has run out: one probe
            access.record([1])
            access.record([1])  # the probe fails (the socket still never answers): open again
            assert len(asked) == 2
    finally:
        hung.close()


def test_without_redis_the_process_keeps_the_counts_and_flushes_them(services):
    asset = make_asset()
    with override_settings(REDIS_URL=""):
        access.record([asset.pk, asset.pk])
        assert access._local_flusher is not None and access._local_flusher.daemon
        assert access.tiering_access_flush(now=NOW) == 1
        assert access.tiering_access_flush(now=NOW) == 0
    asset.refresh_from_db()
    assert asset.reads_total == 2 and asset.last_accessed_at == NOW


def _log_line(bucket: str, operation: str, key: str, status: str = "200") -> str:
    return (
        f"79a5 {bucket} [06/Feb/2026:00:00:38 +0000] 192.0.2.3 - 3E57427F3EXAMPLE {operation} "
        f'{key} "GET /{bucket}/{key} HTTP/1.1" {status} - 2662992 3462992 70 10 "-" "curl/8" -'
    )


def test_s3_access_logs_are_counted_once_and_only_for_tiered_objects(s3, redis_client):
    from django.conf import settings

    from media.tests.factories import make_stored_asset

    media = settings.AWS_STORAGE_BUCKET_NAME
    logs = "pinsite-access-logs"
    s3.create_bucket(Bucket=logs)
    asset, renditions = make_stored_asset()
    original, large, grid = asset.original_key, renditions["large"].key, renditions["grid"].key
    first = "\n".join(
        [
            _log_line(media, "REST.GET.OBJECT", original),
            _log_line(media, "REST.GET.OBJECT", large.replace("/", "%2F")),
            _log_line(media, "REST.GET.OBJECT", large, status="206"),
            _log_line(media, "REST.GET.OBJECT", grid),  # a thumbnail: never tiered, not counted
            _log_line(media, "REST.HEAD.OBJECT", original),  # HEAD is not a read
            _log_line(media, "REST.GET.OBJECT", original, status="403"),
            _log_line("another-bucket", "REST.GET.OBJECT", original),
            "garbage that is not a log line",
        ]
    )
    s3.put_object(Bucket=logs, Key="media/2026-02-06-00-00-38-A", Body=first.encode())
    s3.put_object(
        Bucket=logs,
        Key="media/2026-02-06-00-05-00-B",
        Body=_log_line(media, "REST.GET.OBJECT", large).encode(),
    )
    with override_settings(TIER_ACCESS_LOG_BUCKET=logs, TIER_ACCESS_LOG_PREFIX="media/"):
        access.record([asset.pk])  # URL counts are off while logs are the signal
        assert not redis_client.exists(access.HASH_KEY)
        assert access.tiering_access_log_ingest(now=NOW) == 2
        asset.refresh_from_db()
        assert asset.reads_total == 4 and asset.last_accessed_at == NOW
        assert access.tiering_access_log_ingest(now=NOW) == 0  # nothing counted twice
        s3.put_object(
            Bucket=logs,
            Key="media/2026-02-06-00-10-00-C",
            Body=_log_line(media, "REST.GET.OBJECT", original).encode(),
        )
        assert access.tiering_access_log_ingest(now=NOW) == 1
    asset.refresh_from_db()
    assert asset.reads_total == 5


def test_without_a_log_bucket_ingestion_does_nothing(services):
    assert access.tiering_access_log_ingest() == 0


def test_a_flush_while_another_runs_does_nothing(redis_client):
    asset = make_asset()
    access.record([asset.pk])
    redis_client.set(access.LOCK_KEY, "another flush", ex=60)
    try:
        assert access.tiering_access_flush(now=NOW) == 0
        assert redis_client.exists(access.HASH_KEY)  # left for the next flush
    finally:
        redis_client.delete(access.LOCK_KEY)
    assert access.tiering_access_flush(now=NOW) == 1
    assert not redis_client.exists(access.LOCK_KEY)
