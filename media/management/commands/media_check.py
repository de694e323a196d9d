"""Compare media rows with the stored objects and report, with counts; `--repair` repairs."""

from __future__ import annotations

from datetime import timedelta

from botocore.exceptions import BotoCoreError, ClientError
from django.core.management.base import BaseCommand, CommandError

from media import check
from media.models import MediaCheckReport


def positive(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1
    if not 0 < number < 1e6:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = (
        "Find rows whose objects are missing (originals, renditions), orphan objects older than "
        "the grace period and assets stuck before ready; print the counts and record the report "
        "(shown on /admin/media/check/). --repair: fail assets whose original is gone, rebuild "
        "missing renditions, delete orphans, queue stuck assets again. Exits 1 if problems remain."
    )

    def add_arguments(self, parser):
        parser.add_argument("--repair", action="store_true", help="Repair what can be repaired.")
        parser.add_argument(
            "--grace-hours",
            type=positive,
            default=check.DEFAULT_GRACE / timedelta(hours=1),
            help="Unreferenced objects younger than this are left alone (default: %(default)s).",
        )
        parser.add_argument(
            "--stuck-minutes",
            type=positive,
            default=check.DEFAULT_STUCK_AFTER / timedelta(minutes=1),
            help="Pending or processing longer than this is stuck (default: %(default)s).",
        )

    def handle(self, *args, repair: bool, grace_hours: float, stuck_minutes: float, **options):
        try:
            report = check.media_check_run(
                repair=repair,
                grace=timedelta(hours=grace_hours),
                stuck_after=timedelta(minutes=stuck_minutes),
                trigger=MediaCheckReport.Trigger.COMMAND,
            )
        except (BotoCoreError, ClientError, OSError) as error:
            raise CommandError(f"storage is not answering, nothing was changed: {error}") from error
        self.stdout.write(
            f"Checked {report.objects_listed} objects, {report.assets_checked} assets and "
            f"{report.renditions_checked} renditions in "
            f"{(report.finished_at - report.started_at).total_seconds():.1f} s."
        )
        for kind, label in check.PROBLEMS.items():
            line = f"  {label}: {report.found.get(kind, 0)}"
            if repair:
                line += f" (repaired {report.repaired.get(kind, 0)})"
            self.stdout.write(line)
            for example in report.examples.get(kind, [])[:3]:
                self.stdout.write(f"      e.g. {example}")
        remaining = sum(
            report.found.get(kind, 0) - (report.repaired.get(kind, 0) if repair else 0)
            for kind in check.PROBLEMS
        )
        if remaining:
            raise CommandError(f"{remaining} problem(s) left; see above", returncode=1)
        self.stdout.write(self.style.SUCCESS("No problems left."))
