"""Celery tasks of storage tiering (queue ``tiering``): thin wrappers that call one service each.

Each task body imports its service: the services queue these tasks, so the import runs one way
at load time. Retries follow media's policy (``media.tasks.retry_if_transient``).
"""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from media.tasks import retry_if_transient

TIERING_RESTORE_POLL_SECONDS = 15 * 60  # AWS restores take hours; moto's are immediate
TIERING_RESTORE_MAX_POLLS = 4 * 48  # two days of polls, then staff see it still marked


@shared_task(bind=True, soft_time_limit=3600, time_limit=3700)
def tiering_sweep_task(self, dry_run: bool = False) -> int:
    """Periodic (beat, daily): one tiering sweep; returns how many objects moved."""
    from tiering.sweep import tiering_sweep  # the task body imports its service

    return tiering_sweep(dry_run=dry_run).moved


@shared_task(bind=True, soft_time_limit=240, time_limit=300)
def tiering_access_flush_task(self) -> int:
    """Periodic (beat, every minute): fold the counted accesses into the rows."""
    from tiering import access  # the task body imports its service

    try:
        return access.tiering_access_flush()
    except Exception as error:
        retry_if_transient(self, error)
        raise


@shared_task(bind=True, soft_time_limit=120, time_limit=150, max_retries=TIERING_RESTORE_MAX_POLLS)
def tiering_restore_step_task(self, asset_id: int) -> str:
    """Restore an asset's archived objects, polling by retrying with a countdown (no sleeps)."""
    from tiering import restore  # the task body imports its service (restore queues this task)

    try:
        state = restore.tiering_restore_step(asset_id=asset_id)
    except Exception as error:
        retry_if_transient(self, error)
        raise
    if state == "waiting":
        raise self.retry(countdown=TIERING_RESTORE_POLL_SECONDS)
    return state


@shared_task(bind=True, soft_time_limit=600, time_limit=660)
def tiering_access_log_ingest_task(self) -> int:
    """Periodic (beat, every 15 minutes): count reads from S3 server access logs, where
    TIER_ACCESS_LOG_BUCKET is set (otherwise it does nothing)."""
    from tiering import access  # the task body imports its service

    try:
        return access.tiering_access_log_ingest()
    except Exception as error:
        retry_if_transient(self, error)
        raise


@shared_task(autoretry_for=(OperationalError,), retry_backoff=60, max_retries=3)
def tiering_snapshot_take_task() -> None:
    """Daily (beat): record today's storage and bills for the dashboard's savings chart. Taking
    it again the same day replaces that day's row."""
    from tiering import report  # the task body imports its service

    report.tiering_snapshot_take()
