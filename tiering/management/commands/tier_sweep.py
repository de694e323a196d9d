"""Run one storage-tiering sweep now (what beat runs daily), or preview it with --dry-run."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from tiering.sweep import tiering_sweep


class Command(BaseCommand):
    help = (
        "Move media between S3 storage tiers as the tiering policy decides (one sweep), or with "
        "--dry-run list what would move and what it would save, changing nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Plan only: no S3 call, nothing recorded moved."
        )
        parser.add_argument(
            "--show", type=int, default=20, help="With --dry-run, list this many planned moves."
        )

    def handle(self, *args, dry_run: bool, show: int, **options):
        if show < 0:
            raise CommandError("--show must be 0 or more")
        sweep = tiering_sweep(dry_run=dry_run, limit=show)
        for move in getattr(sweep, "planned", []):
            self.stdout.write(
                f"  {move.key}: {move.from_tier} -> {move.to_tier} "
                f"({move.object_bytes} bytes, {move.reason}, ${move.monthly_saving:.6f}/month)"
            )
        verb = "would move" if dry_run else "moved"
        where = (
            "" if sweep.bytes_moved_on_storage else " (local disk: tiers recorded, no bytes moved)"
        )
        self.stdout.write(
            f"{sweep.get_mode_display()}: examined {sweep.examined} objects, {verb} {sweep.moved} "
            f"({sweep.bytes_moved} bytes, {sweep.s3_calls} S3 calls), expected saving "
            f"${sweep.expected_monthly_saving}/month{where}"
        )
        if sweep.error:
            self.stderr.write(sweep.error)
