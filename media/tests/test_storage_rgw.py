"""What moto cannot prove, against Debian's Ceph Object Gateway (a production S3 implementation):
pinsite's signed URLs are accepted and expire, S3 itself refuses uploads outside the presigned POST
conditions pinsite writes, and the bucket policy pinsite generates denies what it should while
letting the app work.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests

from media import provisioning, storage
from media.storage import signing
from media.tests.factories import image_bytes


@pytest.fixture
def bucket(rgw):
    name = f"pinsite-{uuid.uuid4().hex[:10]}"
    rgw.client().create_bucket(Bucket=name)
    return name


def _signer(rgw, bucket: str, *, tls: bool = False) -> signing.UrlSigner:
    return signing.UrlSigner(
        bucket=bucket,
        region=rgw.region,
        endpoint_url=rgw.tls_endpoint_url if tls else rgw.endpoint_url,
    )


def _credentials(rgw) -> signing.Credentials:
    return signing.Credentials(rgw.access_key, rgw.secret_key)


def test_pinsite_signed_urls_are_accepted_and_refused_once_expired(rgw, bucket):
    key = "renditions/ab/abc/grid-236.webp"
    rgw.client().put_object(Bucket=bucket, Key=key, Body=b"thumbnail bytes")
    signer, credentials = _signer(rgw, bucket), _credentials(rgw)
    now = datetime.now(UTC).replace(microsecond=0)

    fresh = signer.sign(key, credentials=credentials, expires=60, signed_at=now)
    assert requests.get(fresh, timeout=10).content == b"thumbnail bytes"

    expired = signer.sign(
        key, credentials=credentials, expires=5, signed_at=now - timedelta(seconds=30)
    )
    assert requests.get(expired, timeout=10).status_code == 403

    tampered = fresh[:-4] + ("0000" if not fresh.endswith("0000") else "1111")
    assert requests.get(tampered, timeout=10).status_code == 403
    other_key = fresh.replace("grid-236", "grid-474")
    assert requests.get(other_key, timeout=10).status_code == 403

    # The windowed URL the pages hand out is valid, too.
    windowed = signing.signed_url(signer, key, credentials=credentials, expires=900)
    assert requests.get(windowed, timeout=10).status_code == 200


def test_s3_refuses_direct_uploads_outside_pinsites_post_conditions(rgw, bucket):
    client = rgw.client()
    key = "uploads/7/" + uuid.uuid4().hex
    form = storage.presigned_post(key=key, max_bytes=4000, expires=60, client=client, bucket=bucket)
    small_image = image_bytes(40, 30)
    assert len(small_image) < 4000

    def post(data: bytes, content_type: str, **override) -> int:
        fields = {**form["fields"], "Content-Type": content_type, **override}
        return requests.post(
            form["url"], data=fields, files={"file": ("x", data)}, timeout=10
        ).status_code

    assert post(b"x" * 5000, "image/jpeg") in (400, 403)  # larger than content-length-range
    assert post(small_image, "text/html") in (400, 403)  # not an image/ type
    assert post(small_image, "image/jpeg", key="originals/evil.jpg") in (400, 403)  # another key
    assert client.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
    assert post(small_image, "image/jpeg") in (200, 201, 204)
    assert client.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(small_image)


def test_an_expired_upload_form_is_refused(rgw, bucket):
    form = storage.presigned_post(
        key="uploads/7/late", max_bytes=4000, expires=1, client=rgw.client(), bucket=bucket
    )
    time.sleep(2.5)
    fields = {**form["fields"], "Content-Type": "image/jpeg"}
    late = requests.post(
        form["url"], data=fields, files={"file": ("x", image_bytes(40, 30))}, timeout=10
    )
    assert late.status_code in (400, 403)


def _apply_policy(rgw, bucket: str, spec: provisioning.BucketSpec) -> None:
    rgw.client(tls=True, request_checksum_calculation="when_required").put_bucket_policy(
        Bucket=bucket, Policy=json.dumps(provisioning.bucket_policy(spec))
    )


def test_the_generated_policy_denies_plain_http_and_lets_the_app_work_over_tls(rgw, bucket):
    if rgw.tls_endpoint_url is None:
        pytest.fail("the RGW lane was started without its TLS port; the TLS rule cannot be tested")
    _apply_policy(rgw, bucket, provisioning.BucketSpec(bucket=bucket, region=rgw.region))
    plain, tls = rgw.client(), rgw.client(tls=True, request_checksum_calculation="when_required")

    with pytest.raises(plain.exceptions.ClientError) as denied:
        plain.put_object(Bucket=bucket, Key="originals/a.jpg", Body=b"x")
    assert denied.value.response["Error"]["Code"] == "AccessDenied"

    # Everything the app does, over TLS: put, head, ranged get, copy, delete, signed reads.
    tls.put_object(
        Bucket=bucket, Key="uploads/1/u", Body=image_bytes(50, 40), ContentType="image/jpeg"
    )
    assert tls.head_object(Bucket=bucket, Key="uploads/1/u")["ContentLength"] > 0
    first = tls.get_object(Bucket=bucket, Key="uploads/1/u", Range="bytes=0-9")["Body"].read()
    assert first[:3] == b"\xff\xd8\xff"
    tls.copy_object(
        Bucket=bucket,
        Key="originals/2026/11/o.jpg",
        CopySource={"Bucket": bucket, "Key": "uploads/1/u"},
        MetadataDirective="REPLACE",
        ContentType="image/jpeg",
        ContentDisposition="attachment",
    )
    tls.delete_object(Bucket=bucket, Key="uploads/1/u")
    signer, credentials = _signer(rgw, bucket, tls=True), _credentials(rgw)
    url = signing.signed_url(signer, "originals/2026/11/o.jpg", credentials=credentials, expires=60)
    assert requests.get(url, timeout=10, verify=rgw.ca_bundle).status_code == 200
    plain_url = signing.signed_url(
        _signer(rgw, bucket), "originals/2026/11/o.jpg", credentials=credentials, expires=60
    )
    assert requests.get(plain_url, timeout=10).status_code == 403


def test_the_ip_allowlist_denies_requests_from_elsewhere(rgw, bucket):
    if rgw.tls_endpoint_url is None:
        pytest.fail("the RGW lane was started without its TLS port")
    tls = rgw.client(tls=True, request_checksum_calculation="when_required")
    tls.put_object(Bucket=bucket, Key="renditions/x", Body=b"x")
    _apply_policy(
        rgw,
        bucket,
        provisioning.BucketSpec(bucket=bucket, region=rgw.region, allowed_ips=("127.0.0.1/32",)),
    )
    assert tls.get_object(Bucket=bucket, Key="renditions/x")["Body"].read() == b"x"
    _apply_policy(
        rgw,
        bucket,
        provisioning.BucketSpec(bucket=bucket, region=rgw.region, allowed_ips=("203.0.113.0/24",)),
    )
    with pytest.raises(tls.exceptions.ClientError) as denied:
        tls.get_object(Bucket=bucket, Key="renditions/x")
    assert denied.value.response["Error"]["Code"] == "AccessDenied"


@pytest.mark.django_db
def test_a_tiering_sweep_changes_storage_classes_on_a_real_s3_and_keeps_the_headers(rgw, bucket):
    """The in-place copy (StorageClass, MetadataDirective=COPY) as Ceph RGW implements it."""
    from datetime import timedelta

    from django.conf import settings
    from django.test import override_settings

    from media.models import StorageTier
    from media.tests.factories import TIERING_T0, make_stored_asset, storage_class_of
    from tiering.models import TierTransition
    from tiering.sweep import tiering_sweep

    options = {
        **settings.STORAGES["default"].get("OPTIONS", {}),
        "bucket_name": bucket,
        "endpoint_url": rgw.endpoint_url,
        "access_key": rgw.access_key,
        "secret_key": rgw.secret_key,
        "region_name": rgw.region,
    }
    media = {"BACKEND": "media.storage.backend.MediaStorage", "OPTIONS": options}
    with override_settings(
        AWS_STORAGE_BUCKET_NAME=bucket, STORAGES={**settings.STORAGES, "default": media}
    ):
        client = storage._client()
        cold, renditions = make_stored_asset()
        pinned, _ = make_stored_asset(tier_pinned=StorageTier.GLACIER)
        before = client.head_object(Bucket=bucket, Key=cold.original_key)
        sweep = tiering_sweep(now=TIERING_T0 + timedelta(days=100))
        assert sweep.bytes_moved_on_storage and sweep.moved == 4
        assert storage_class_of(client, cold.original_key) == "GLACIER_IR"
        assert storage_class_of(client, renditions["large"].key) == "GLACIER_IR"
        assert storage_class_of(client, renditions["grid"].key) == "STANDARD"
        assert storage_class_of(client, pinned.original_key) == "GLACIER"
        after = client.head_object(Bucket=bucket, Key=cold.original_key)
        for header in ("ContentType", "ContentDisposition", "CacheControl", "ContentLength"):
            assert after.get(header) == before.get(header), header
        body = client.get_object(Bucket=bucket, Key=cold.original_key)["Body"].read()
        assert body == b"x" * cold.byte_size
        assert TierTransition.objects.filter(sweep=sweep).count() == 4
        again = tiering_sweep(now=TIERING_T0 + timedelta(days=101))
        assert again.moved == 0 and again.s3_calls == 0
