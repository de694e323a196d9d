"""What pinsite's media bucket should look like, as data, and the calls that make it so.

The builders are pure (settings in, JSON documents out) so the exact documents are testable; the
``provision`` function applies them with idempotent S3 calls (each a full replace of that part of the
bucket's configuration), so running it twice leaves the same state.

Prefixes: ``uploads/`` (direct browser uploads, unconfirmed; deleted within a day),
``originals/`` (confirmed uploads) and ``renditions/`` (thumbnails and large views).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

UPLOADS = "uploads/"
ORIGINALS = "originals/"
RENDITIONS = "renditions/"


@dataclass(frozen=True)
class BucketSpec:
    bucket: str  # a bucket name, or an access point ARN/alias (then bucket-level calls are skipped)
    region: str = "us-east-1"
    upload_origins: tuple[str, ...] = ()
    allowed_ips: tuple[str, ...] = ()
    allowed_vpc_endpoints: tuple[str, ...] = ()
    kms_key_id: str = ""
    # False only for a plain-HTTP endpoint (a local S3): denying plain HTTP would lock the app out.
    require_tls: bool = True
    unconfirmed_upload_days: int = 1
    noncurrent_version_days: int = 30
    extra: dict = field(default_factory=dict)

    @property
    def is_access_point(self) -> bool:
        return self.bucket.startswith("arn:") or self.bucket.endswith("-s3alias")

    @property
    def arn(self) -> str:
        if self.bucket.startswith("arn:"):
            return self.bucket
        return f"arn:aws:s3:::{self.bucket}"


def public_access_block() -> dict:
    return {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }


def encryption(spec: BucketSpec) -> dict:
    if spec.kms_key_id:
        default = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": spec.kms_key_id}
        return {
            "Rules": [{"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": True}]
        }
    return {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}


def lifecycle(spec: BucketSpec) -> dict:
    """Abort stale multipart uploads, expire unconfirmed uploads, and expire the noncurrent versions
    that every tier change or overwrite leaves behind in a versioned bucket."""
    return {
        "Rules": [
            {
                "ID": "abort-incomplete-multipart",
                "Status": "Enabled",
                "Filter": {"Prefix": ""},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
            },
            {
                "ID": "expire-unconfirmed-uploads",
                "Status": "Enabled",
                "Filter": {"Prefix": UPLOADS},
                "Expiration": {"Days": spec.unconfirmed_upload_days},
            },
            {
                "ID": "expire-noncurrent-versions",
                "Status": "Enabled",
                "Filter": {"Prefix": ""},
                "NoncurrentVersionExpiration": {"NoncurrentDays": spec.noncurrent_version_days},
            },
        ]
    }


def cors(spec: BucketSpec) -> dict | None:
    """Browsers may POST uploads from the site's origins and read media; nothing else."""
    if not spec.upload_origins:
        return None
    return {
        "CORSRules": [
            {
                "AllowedOrigins": list(spec.upload_origins),
                "AllowedMethods": ["POST", "GET", "HEAD"],
                "AllowedHeaders": ["*"],
                "ExposeHeaders": ["ETag"],
                "MaxAgeSeconds": 3600,
            }
        ]
    }


def bucket_policy(spec: BucketSpec) -> dict | None:
    """Deny every request over plain HTTP; when allowlists are set, deny requests from elsewhere.

    None when there is nothing to deny (a plain-HTTP local endpoint without allowlists).
    """
    resources = [spec.arn, f"{spec.arn}/*"]
    statements = []
    if spec.require_tls:
        statements.append(
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": resources,
                # BoolIfExists, not Bool: Ceph RGW leaves the key out on plain HTTP (AWS sets it
                # to "false"), and a Bool condition on a missing key never matches.
                "Condition": {"BoolIfExists": {"aws:SecureTransport": "false"}},
            }
        )
    if spec.allowed_ips:
        statements.append(
            {
                "Sid": "DenyOutsideAllowedIps",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": resources,
                "Condition": {"NotIpAddress": {"aws:SourceIp": list(spec.allowed_ips)}},
            }
        )
    if spec.allowed_vpc_endpoints:
        statements.append(
            {
                "Sid": "DenyOutsideAllowedVpcEndpoints",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": resources,
                "Condition": {
                    "StringNotEquals": {"aws:SourceVpce": list(spec.allowed_vpc_endpoints)}
                },
            }
        )
    return {"Version": "2012-10-17", "Statement": statements} if statements else None


def iam_policies(spec: BucketSpec) -> dict[str, dict]:
    """Least-privilege policies for the two roles, each limited to the prefixes it touches.

    web: signs uploads into uploads/ (the browser's POST is authorised by the web role's
    s3:PutObject on uploads/*), confirms them (HEAD and GET uploads/*, copy to originals/*, delete
    uploads/*), signs reads of originals/ and renditions/, and deletes nothing else.
    worker: reads originals, writes and deletes renditions, deletes released originals, changes
    storage classes (a copy onto itself), restores archived objects, and sweeps uploads/.
    """
    arn = spec.arn

    def objects(*prefixes: str) -> list[str]:
        return [f"{arn}/{prefix}*" for prefix in prefixes]

    web: dict[str, Any] = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "UploadsDirectFromBrowsers",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
                "Resource": objects(UPLOADS),
            },
            {
                "Sid": "ConfirmIntoOriginals",
                "Effect": "Allow",
                "Action": ["s3:PutObject"],
                "Resource": objects(ORIGINALS),
            },
            {
                "Sid": "SignedReads",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": objects(ORIGINALS, RENDITIONS),
            },
            {
                # Without ListBucket a HEAD of a missing object is a 403, not a 404.
                "Sid": "TellMissingFromForbidden",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [arn],
                "Condition": {"StringLike": {"s3:prefix": [UPLOADS + "*", ORIGINALS + "*"]}},
            },
        ],
    }
    worker: dict[str, Any] = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadOriginalsAndRenditions",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:RestoreObject"],
                "Resource": objects(ORIGINALS, RENDITIONS),
            },
            {
                # DeleteObjectVersion: a cleaned original's older version (with its GPS) must not
                # linger in a versioned bucket until the lifecycle rule expires it.
                "Sid": "WriteRenditionsCleanOriginalsAndChangeTiers",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"],
                "Resource": objects(ORIGINALS, RENDITIONS),
            },
            {
                "Sid": "SweepUnconfirmedUploads",
                "Effect": "Allow",
                "Action": ["s3:DeleteObject"],
                "Resource": objects(UPLOADS),
            },
            {
                "Sid": "ListForSweepsAndDashboards",
                "Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:ListBucketVersions"],
                "Resource": [arn],
                "Condition": {
                    "StringLike": {"s3:prefix": [UPLOADS + "*", ORIGINALS + "*", RENDITIONS + "*"]}
                },
            },
        ],
    }
    if spec.kms_key_id:
        kms = {
            "Sid": "UseTheBucketKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": [spec.kms_key_id],
        }
        web["Statement"].append(kms)
        worker["Statement"].append(kms)
    return {"web": web, "worker": worker}


# Steps a local S3 server may need left out, by the name `s3_provision --skip` takes. Ceph RGW
# 16.2 (`make stack`) answers InvalidArgument to default encryption (it has no SSE-S3), and with
# BlockPublicAcls set it refuses every PutObject, private ones too.
SKIPPABLE = {"public-access-block": "block public access", "encryption": "default encryption"}


def provision(
    client, spec: BucketSpec, *, log=print, skip: frozenset[str] = frozenset()
) -> list[str]:
    """Make the bucket match ``spec``; returns the steps taken. Idempotent. ``skip`` names steps
    to leave out (keys of SKIPPABLE), for S3 servers that lack them; each is logged as skipped."""
    steps: list[str] = []
    skipped = {SKIPPABLE[name] for name in skip}

    def step(name: str, call, **kwargs) -> None:
        if name in skipped:
            log(f"  {name}: skipped (--skip)")
            return
        call(**kwargs)
        steps.append(name)
        log(f"  {name}")

    if spec.is_access_point:
        # An access point's bucket belongs to whoever made the access point; its bucket-level
        # configuration is theirs to set (the printed documents say what it should be).
        log(f"  {spec.bucket} is an access point: bucket-level settings are left to its owner")
        return steps
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if spec.bucket not in existing:
        create: dict[str, Any] = {"Bucket": spec.bucket}
        if spec.region != "us-east-1":
            create["CreateBucketConfiguration"] = {"LocationConstraint": spec.region}
        step("create bucket", client.create_bucket, **create)
    step(
        "block public access",
        client.put_public_access_block,
        Bucket=spec.bucket,
        PublicAccessBlockConfiguration=public_access_block(),
    )
    step(
        "default encryption",
        client.put_bucket_encryption,
        Bucket=spec.bucket,
        ServerSideEncryptionConfiguration=encryption(spec),
    )
    step(
        "versioning",
        client.put_bucket_versioning,
        Bucket=spec.bucket,
        VersioningConfiguration={"Status": "Enabled"},
    )
    step(
        "lifecycle",
        client.put_bucket_lifecycle_configuration,
        Bucket=spec.bucket,
        LifecycleConfiguration=lifecycle(spec),
    )
    rules = cors(spec)
    if rules:
        step("cors", client.put_bucket_cors, Bucket=spec.bucket, CORSConfiguration=rules)
    else:
        step("cors (none: no upload origins)", client.delete_bucket_cors, Bucket=spec.bucket)
    policy = bucket_policy(spec)
    if policy:
        step(
            "bucket policy", client.put_bucket_policy, Bucket=spec.bucket, Policy=json.dumps(policy)
        )
    else:
        step(
            "bucket policy (none: nothing to deny)", client.delete_bucket_policy, Bucket=spec.bucket
        )
    return steps
