"""The test harness really runs the services: a primary with 2 streaming replicas, Redis, S3."""

from __future__ import annotations

import time
import uuid

import boto3
import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connections, transaction
from django.db.utils import InternalError, NotSupportedError, OperationalError

from accounts.models import User
from accounts.tests.factories import make_user

pytestmark = pytest.mark.usefixtures("services")


def _read_on(alias: str, username: str, timeout: float = 5.0) -> User | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = User.objects.using(alias).filter(username=username).first()
        if found is not None:
            return found
        time.sleep(0.01)
    return None


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_row_written_on_the_primary_is_read_on_each_replica():
    assert settings.REPLICA_ALIASES == ["replica_1", "replica_2"]
    person = make_user(f"mirror-{uuid.uuid4().hex[:8]}")
    for alias in settings.REPLICA_ALIASES:
        replicated = _read_on(alias, person.username)
        assert replicated is not None, f"{alias} never saw the row"
        assert replicated.pk == person.pk


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_replicas_are_hot_standbys_on_their_own_ports_and_refuse_writes():
    primary = connections["default"].settings_dict
    seen_ports = {primary["PORT"]}
    for alias in settings.REPLICA_ALIASES:
        connection = connections[alias]
        assert connection.settings_dict["NAME"] == primary["NAME"]  # the mirrored test database
        seen_ports.add(connection.settings_dict["PORT"])
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_is_in_recovery(), current_setting('server_version_num')::int")
            in_recovery, version = cursor.fetchone()
        assert in_recovery is True
        assert 150000 <= version < 160000
        with (
            pytest.raises((InternalError, NotSupportedError, OperationalError), match="read-only"),
            transaction.atomic(using=alias),
            connection.cursor() as cursor,
        ):
            cursor.execute("CREATE TABLE refused (id int)")
    assert len(seen_ports) == 3
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")
        assert cursor.fetchone()[0] == 2


def test_cache_is_the_sessions_redis():
    assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")
    key = f"harness-{uuid.uuid4().hex}"
    cache.set(key, "here", 30)
    assert cache.get(key) == "here"


def test_media_goes_to_the_s3_server_over_http():
    assert settings.STORAGES["default"]["BACKEND"] == "media.storage.backend.MediaStorage"
    key = f"harness/{uuid.uuid4().hex}.txt"
    assert default_storage.save(key, ContentFile(b"hello")) == key
    client = boto3.client(
        "s3",
        endpoint_url=settings.S3_ENDPOINT_URL,
        region_name="us-east-1",
        aws_access_key_id="pinsite-local",
        aws_secret_access_key="pinsite-local-secret",
    )
    body = client.get_object(Bucket=settings.AWS_STORAGE_BUCKET_NAME, Key=key)["Body"].read()
    assert body == b"hello"
    url = default_storage.url(key)
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=" in url
    default_storage.delete(key)
