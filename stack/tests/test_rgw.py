"""The Ceph RGW lane is a real S3: it refuses what moto lets through.

Each test asks for the session's `rgw` fixture (stack.pytest_plugin), which starts one Ceph
cluster with radosgw on first use and removes it at the end of the session.
"""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from stack.errors import StackError
from stack.processes import ProcessId, port_free
from stack.pytest_plugin import RgwLane
from stack.rgw import STORAGE_CLASSES, RadosGateway


def _http(
    url: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    cafile: str | None = None,
) -> tuple[int, bytes]:
    """(status, body) of a plain HTTP request, the way a browser would make it (no SDK)."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310
    context = ssl.create_default_context(cafile=cafile) if cafile else None
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _multipart(fields: dict[str, str], content: bytes, content_type: str) -> tuple[bytes, str]:
    """A browser's multipart/form-data body for an S3 POST upload (the file comes last)."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="upload"\r\n'
        f"Content-Type: {content_type}\r\n\r\n".encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _error_code(error: ClientError) -> tuple[int, str]:
    return error.response["ResponseMetadata"]["HTTPStatusCode"], error.response["Error"]["Code"]


@pytest.fixture
def s3(rgw: RgwLane) -> Any:
    return rgw.client()


@pytest.fixture
def bucket(s3: Any) -> Iterator[str]:
    """A fresh bucket, emptied and deleted after the test."""
    name = f"t-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    yield name
    s3.delete_bucket_policy(Bucket=name)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)


def test_put_get_and_signatures_are_checked(rgw: RgwLane, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="a/hello.txt", Body=b"hello", ContentType="text/plain")
    got = s3.get_object(Bucket=bucket, Key="a/hello.txt")
    assert got["Body"].read() == b"hello"
    assert got["ContentType"] == "text/plain"
    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]

    # moto accepts any key and secret; RGW checks the SigV4 signature.
    forged = boto3.client(
        "s3",
        endpoint_url=rgw.endpoint_url,
        aws_access_key_id=rgw.access_key,
        aws_secret_access_key="not-the-secret",
        region_name=rgw.region,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    with pytest.raises(ClientError) as refused:
        forged.get_object(Bucket=bucket, Key="a/hello.txt")
    assert _error_code(refused.value) == (403, "SignatureDoesNotMatch")
    status, _ = _http(f"{rgw.endpoint_url}/{bucket}/a/hello.txt")  # anonymous
    assert status == 403


def test_presigned_get_expires(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="photo.jpg", Body=b"jpeg bytes")
    # X-Amz-Date has whole seconds: sign at the start of one, so "at once" is well within it.
    time.sleep(1 - time.time() % 1)
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "photo.jpg"}, ExpiresIn=1
    )
    assert _http(url) == (200, b"jpeg bytes")
    tampered = url.replace("photo.jpg", "photo.jpeg")
    assert _http(tampered)[0] == 403

    time.sleep(2.2)
    status, body = _http(url)
    assert status == 403, body
    assert b"AccessDenied" in body


def test_presigned_post_enforces_its_conditions(s3: Any, bucket: str) -> None:
    post = s3.generate_presigned_post(
        Bucket=bucket,
        Key="uploads/${filename}",
        Conditions=[
            ["starts-with", "$key", "uploads/"],
            ["content-length-range", 1, 1024],
            ["starts-with", "$Content-Type", "image/"],
        ],
        ExpiresIn=60,
    )

    def upload(content: bytes, content_type: str) -> tuple[int, bytes]:
        fields = {**post["fields"], "Content-Type": content_type}
        body, form_type = _multipart(fields, content, content_type)
        return _http(post["url"], method="POST", body=body, headers={"Content-Type": form_type})

    status, body = upload(b"x" * 2048, "image/png")
    assert status == 400, body
    assert b"EntityTooLarge" in body

    status, body = upload(b"<script>alert(1)</script>", "text/html")
    assert status == 403, body
    assert b"AccessDenied" in body
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0

    status, body = upload(b"\x89PNG\r\n\x1a\n" + b"x" * 100, "image/png")
    assert status == 204, body
    head = s3.head_object(Bucket=bucket, Key="uploads/upload")
    assert (head["ContentLength"], head["ContentType"]) == (108, "image/png")


def test_bucket_policy_denies_a_prefix(s3: Any, bucket: str) -> None:
    for key in ("public/a.txt", "private/b.txt"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"data")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "NoPrivateReads",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/private/*",
            }
        ],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))

    assert s3.get_object(Bucket=bucket, Key="public/a.txt")["Body"].read() == b"data"
    with pytest.raises(ClientError) as refused:  # an explicit Deny binds even the owner
        s3.get_object(Bucket=bucket, Key="private/b.txt")
    assert _error_code(refused.value) == (403, "AccessDenied")


def test_bucket_policy_requires_tls(rgw: RgwLane, s3: Any, bucket: str) -> None:
    assert rgw.tls_endpoint_url, "the lane was started without its HTTPS port"
    s3.put_object(Bucket=bucket, Key="secret.txt", Body=b"over tls only")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
                # RGW 16.2 sets aws:SecureTransport only on TLS requests ("true") and leaves it
                # out otherwise, so the usual {"Bool": {...: "false"}} never matches there;
                # BoolIfExists matches both AWS's "false" and RGW's missing key.
                "Condition": {"BoolIfExists": {"aws:SecureTransport": "false"}},
            }
        ],
    }
    aws_usual = json.loads(json.dumps(policy).replace("BoolIfExists", "Bool"))
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(aws_usual))
    # Not enforced on RGW (it would be on AWS): a production policy must use BoolIfExists.
    assert s3.get_object(Bucket=bucket, Key="secret.txt")["Body"].read() == b"over tls only"

    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    with pytest.raises(ClientError) as refused:
        s3.get_object(Bucket=bucket, Key="secret.txt")
    assert _error_code(refused.value) == (403, "AccessDenied")
    over_tls = rgw.client(tls=True)  # verifies the lane's self-signed certificate
    assert over_tls.get_object(Bucket=bucket, Key="secret.txt")["Body"].read() == b"over tls only"
    url = over_tls.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "secret.txt"}, ExpiresIn=60
    )
    assert _http(url, cafile=rgw.ca_bundle) == (200, b"over tls only")


@pytest.mark.parametrize("storage_class", STORAGE_CLASSES)
def test_storage_classes_exist(s3: Any, bucket: str, storage_class: str) -> None:
    s3.put_object(Bucket=bucket, Key="original.jpg", Body=b"x" * 4096)
    assert "StorageClass" not in s3.head_object(Bucket=bucket, Key="original.jpg")  # STANDARD
    s3.copy_object(
        Bucket=bucket,
        Key="original.jpg",
        CopySource={"Bucket": bucket, "Key": "original.jpg"},
        StorageClass=storage_class,
        MetadataDirective="COPY",
    )
    assert s3.head_object(Bucket=bucket, Key="original.jpg")["StorageClass"] == storage_class
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [item["StorageClass"] for item in listed] == [storage_class]
    assert s3.get_object(Bucket=bucket, Key="original.jpg")["Body"].read() == b"x" * 4096


def test_unknown_storage_class_is_refused(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", StorageClass="DEEP_ARCHIVE")
    assert _error_code(refused.value)[0] == 400


class _FailsOnce(RadosGateway):
    """Its first bootstrap dies half-way, leaving a daemon and files behind."""

    leftover: ProcessId | None = None

    def _bootstrap(self) -> None:
        if self.leftover is None:
            self._prepare_folder()
            (self.folder / "mon" / "stale").write_text("from the failed attempt")
            self._spawn("mon", ["sleep", "120"])
            self.leftover = self._procs["mon"]
            raise StackError("the first bootstrap failed")
        super()._bootstrap()


def test_a_failed_bootstrap_is_retried_and_stop_leaves_nothing(rgw: RgwLane, tmp_path) -> None:
    """A second, private gateway (the session's `rgw` only proves the packages are there)."""
    gateway = _FailsOnce(tmp_path / "rgw")
    try:
        gateway.start()
        assert gateway.retried == "the first bootstrap failed"
        assert gateway.leftover is not None and not gateway.leftover.alive()
        assert not (gateway.folder / "mon" / "stale").exists()
        client = RgwLane(gateway).client()
        client.create_bucket(Bucket="retried")
        assert [b["Name"] for b in client.list_buckets()["Buckets"]] == ["retried"]
        pids = {name: ProcessId.of(pid) for name, pid in gateway.pids().items()}
        assert sorted(pids) == ["mon", "osd", "radosgw"]
        ports = [gateway.port, gateway.tls_port, gateway.mon_port]
    finally:
        gateway.stop()
    assert not [name for name, proc in pids.items() if proc and proc.alive()]
    assert all(port_free(port) for port in ports)
    assert not gateway.folder.exists()
    gateway.stop()  # idempotent
