"""Provision the media bucket (idempotently) and print or write the IAM policies for its roles."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from media import provisioning, storage


def bucket_spec() -> provisioning.BucketSpec:
    return provisioning.BucketSpec(
        bucket=settings.AWS_STORAGE_BUCKET_NAME,
        region=settings.AWS_S3_REGION_NAME,
        upload_origins=tuple(settings.S3_UPLOAD_ALLOWED_ORIGINS),
        allowed_ips=tuple(settings.S3_ALLOWED_SOURCE_IPS),
        allowed_vpc_endpoints=tuple(settings.S3_ALLOWED_VPC_ENDPOINTS),
        kms_key_id=settings.S3_KMS_KEY_ID,
        require_tls=not settings.S3_ENDPOINT_URL.startswith("http://"),
    )


class Command(BaseCommand):
    help = (
        "Create or update the media bucket: private, encrypted, versioned, with lifecycle, CORS and "
        "a TLS-only policy; and print the least-privilege IAM policies of the web and worker roles."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--iam-only", action="store_true", help="Only print the IAM policies; change nothing."
        )
        parser.add_argument(
            "--iam-dir", type=Path, help="Write web.json and worker.json here instead of printing."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Print the documents that would be applied."
        )
        parser.add_argument(
            "--skip",
            action="append",
            default=[],
            choices=sorted(provisioning.SKIPPABLE),
            help="Leave out a step the S3 server does not support (repeatable; for local servers "
            "such as Ceph RGW 16, never for AWS).",
        )

    def handle(
        self,
        *args,
        iam_only: bool,
        iam_dir: Path | None,
        dry_run: bool,
        skip: list[str],
        **options,
    ):
        if not storage.is_s3():
            raise CommandError("AWS_STORAGE_BUCKET_NAME is not set: media is on local disk.")
        spec = bucket_spec()
        if not spec.require_tls:
            self.stderr.write(
                f"S3_ENDPOINT_URL {settings.S3_ENDPOINT_URL} is plain HTTP: the policy that denies "
                "plain HTTP is left out (it would lock pinsite out). Use https in production."
            )
        if dry_run:
            documents = {
                "public_access_block": provisioning.public_access_block(),
                "encryption": provisioning.encryption(spec),
                "lifecycle": provisioning.lifecycle(spec),
                "cors": provisioning.cors(spec),
                "bucket_policy": provisioning.bucket_policy(spec),
            }
            self.stdout.write(json.dumps(documents, indent=2))
        elif not iam_only:
            self.stdout.write(f"Provisioning {spec.bucket}:")
            provisioning.provision(
                storage._client(), spec, log=self.stdout.write, skip=frozenset(skip)
            )
        policies = provisioning.iam_policies(spec)
        if iam_dir:
            iam_dir.mkdir(parents=True, exist_ok=True)
            for role, document in policies.items():
                (iam_dir / f"{role}.json").write_text(json.dumps(document, indent=2) + "\n")
            self.stdout.write(f"IAM policies written to {iam_dir}/web.json and worker.json")
        else:
            for role, document in policies.items():
                self.stdout.write(
                    f"\n# IAM policy for the {role} role\n{json.dumps(document, indent=2)}"
                )
