"""Bucket provisioning against the session's S3 server (moto), and the documents themselves.

moto stores every configuration but enforces none of it; whether the policy denies what it should
is proven against Ceph RGW (pins/tests/test_s3_rgw.py).
"""

from __future__ import annotations

import io
import json
import uuid
from dataclasses import replace

import pytest
from django.core.management import call_command

from media import provisioning, storage
from media.management.commands.s3_provision import bucket_spec


@pytest.fixture
def client(services):
    return storage._client()


def _state(client, bucket: str) -> dict:
    return {
        "public_access_block": client.get_public_access_block(Bucket=bucket)[
            "PublicAccessBlockConfiguration"
        ],
        "encryption": client.get_bucket_encryption(Bucket=bucket)[
            "ServerSideEncryptionConfiguration"
        ]["Rules"],
        "versioning": client.get_bucket_versioning(Bucket=bucket)["Status"],
        "lifecycle": client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"],
        "cors": _cors(client, bucket),
        "policy": json.loads(client.get_bucket_policy(Bucket=bucket)["Policy"]),
    }


def state_without_policy(client, bucket: str) -> dict:
    return {
        "versioning": client.get_bucket_versioning(Bucket=bucket)["Status"],
        "cors": _cors(client, bucket),
    }


def _cors(client, bucket: str) -> list | None:
    try:
        return client.get_bucket_cors(Bucket=bucket)["CORSRules"]
    except client.exceptions.ClientError as error:
        assert error.response["Error"]["Code"] == "NoSuchCORSConfiguration"
        return None


def test_provisioning_a_new_bucket_twice_gives_the_same_complete_state(client):
    spec = replace(
        bucket_spec(),
        require_tls=True,  # as in production; moto does not enforce it on bucket-level calls
        bucket=f"pinsite-provision-{uuid.uuid4().hex[:8]}",
        upload_origins=("https://pins.example.com",),
        allowed_ips=("203.0.113.0/24",),
    )
    first_steps = provisioning.provision(client, spec, log=lambda line: None)
    first = _state(client, spec.bucket)
    second_steps = provisioning.provision(client, spec, log=lambda line: None)
    assert _state(client, spec.bucket) == first
    assert first_steps[0] == "create bucket" and "create bucket" not in second_steps

    assert all(first["public_access_block"].values())
    assert first["encryption"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert first["versioning"] == "Enabled"
    rules = {rule["ID"]: rule for rule in first["lifecycle"]}
    assert rules["expire-unconfirmed-uploads"]["Expiration"]["Days"] == 1
    assert rules["expire-unconfirmed-uploads"]["Filter"]["Prefix"] == "uploads/"
    assert rules["abort-incomplete-multipart"]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 1
    }
    assert "NoncurrentVersionExpiration" in rules["expire-noncurrent-versions"]
    assert first["cors"][0]["AllowedOrigins"] == ["https://pins.example.com"]
    sids = {statement["Sid"] for statement in first["policy"]["Statement"]}
    assert sids == {"DenyInsecureTransport", "DenyOutsideAllowedIps"}


def test_the_command_provisions_the_configured_bucket_and_prints_both_roles(
    client, tmp_path, settings
):
    # A bucket of its own: the session's media bucket stays as the other tests expect it.
    settings.AWS_STORAGE_BUCKET_NAME = f"pinsite-command-{uuid.uuid4().hex[:8]}"
    out = io.StringIO()
    call_command("s3_provision", stdout=out)
    assert "bucket policy" in out.getvalue()
    assert "IAM policy for the web role" in out.getvalue()
    bucket = settings.AWS_STORAGE_BUCKET_NAME
    assert state_without_policy(client, bucket)["versioning"] == "Enabled"
    # The session's S3 is plain HTTP: a deny-plain-HTTP policy would lock the app out, so the
    # command leaves it out (and says so), and the app's object calls keep working.
    with pytest.raises(client.exceptions.ClientError):
        client.get_bucket_policy(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="originals/x.jpg", Body=b"x")
    assert client.head_object(Bucket=bucket, Key="originals/x.jpg")["ContentLength"] == 1
    call_command("s3_provision", "--iam-only", "--iam-dir", str(tmp_path), stdout=io.StringIO())
    web = json.loads((tmp_path / "web.json").read_text())
    worker = json.loads((tmp_path / "worker.json").read_text())
    assert web["Version"] == worker["Version"] == "2012-10-17"


def test_iam_policies_are_limited_to_the_prefixes_each_role_needs():
    spec = provisioning.BucketSpec(bucket="media-bucket")
    policies = provisioning.iam_policies(spec)
    for document in policies.values():
        for statement in document["Statement"]:
            assert statement["Effect"] == "Allow"
            assert "*" not in statement["Action"] and "s3:*" not in statement["Action"]
            for resource in statement["Resource"]:
                # Objects only under pinsite's three prefixes; the bucket itself only to list them.
                assert resource == "arn:aws:s3:::media-bucket" or any(
                    resource == f"arn:aws:s3:::media-bucket/{prefix}*"
                    for prefix in ("uploads/", "originals/", "renditions/")
                )
    web_deletes = {
        resource
        for statement in policies["web"]["Statement"]
        if "s3:DeleteObject" in statement["Action"]
        for resource in statement["Resource"]
    }
    assert web_deletes == {"arn:aws:s3:::media-bucket/uploads/*"}  # the web never deletes media
    worker_puts = {
        resource
        for statement in policies["worker"]["Statement"]
        if "s3:PutObject" in statement["Action"]
        for resource in statement["Resource"]
    }
    assert "arn:aws:s3:::media-bucket/uploads/*" not in worker_puts


def test_access_points_and_kms_keys_shape_the_documents():
    arn = "arn:aws:s3:us-east-1:123456789012:accesspoint/pinsite"
    spec = provisioning.BucketSpec(bucket=arn, kms_key_id="arn:aws:kms:us-east-1:1:key/k")
    assert spec.is_access_point
    web = provisioning.iam_policies(spec)["web"]
    assert f"{arn}/uploads/*" in web["Statement"][0]["Resource"]
    assert any(s["Sid"] == "UseTheBucketKey" for s in web["Statement"])
    assert provisioning.encryption(spec)["Rules"][0]["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": "arn:aws:kms:us-east-1:1:key/k",
    }
    assert provisioning.provision(None, spec, log=lambda line: None) == []
    alias = provisioning.BucketSpec(bucket="pinsite-ab12cd34ef56gh78ij90kl12mn34op56-s3alias")
    assert alias.is_access_point


def test_steps_a_local_server_lacks_can_be_skipped_and_the_rest_still_applies(client, settings):
    """`make stack` on Ceph RGW 16 skips default encryption and the public access block."""
    bucket = settings.AWS_STORAGE_BUCKET_NAME = f"pinsite-skip-{uuid.uuid4().hex[:8]}"
    out = io.StringIO()
    call_command(
        "s3_provision", "--skip", "encryption", "--skip", "public-access-block", stdout=out
    )
    assert "block public access: skipped" in out.getvalue()
    assert "default encryption: skipped" in out.getvalue()
    assert client.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    for missing in (client.get_public_access_block, client.get_bucket_encryption):
        with pytest.raises(client.exceptions.ClientError):
            missing(Bucket=bucket)
