"""Celery tasks for media: thin wrappers that take ids, call one service each and own their
retry policy.

Every task here is ``acks_late`` with ``reject_on_worker_lost`` (settings): a worker that dies
mid-task leaves the message to be delivered again, and the services make a second run harmless.
Only transient errors (storage or database not answering, the row busy in another run) are
retried, with exponential backoff and jitter; a bad file is recorded on the asset as failed by the
service and never retried. An original in an archive tier is a transient error too: processing
asks for its restore and is retried later. Queues: ``media`` (processing, purges),
``maintenance`` (sweepers) and ``tiering`` (``tier_*``); see CELERY_TASK_ROUTES.
"""

from __future__ import annotations

import errno
import logging
from datetime import timedelta

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
)
from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.db import InterfaceError, OperationalError

from media import storage
from media.models import MediaAssetBusy

logger = logging.getLogger(__name__)

# A hostile file must not hold a worker: past the soft limit the asset fails with a reason, and
# the hard limit kills the pool process if the decoder does not come back to Python in time.
# A claim older than the hard limit belongs to a dead run (settings MEDIA_TASK_TIME_LIMIT).
MEDIA_TIME_LIMIT = settings.MEDIA_TASK_TIME_LIMIT
MEDIA_SOFT_TIME_LIMIT = max(MEDIA_TIME_LIMIT - 30, MEDIA_TIME_LIMIT * 3 // 4)
# A video (up to 60 s, up to 4K) is decoded whole and transcoded: given per call when queued.
VIDEO_TIME_LIMIT = settings.MEDIA_VIDEO_TASK_TIME_LIMIT
VIDEO_SOFT_TIME_LIMIT = max(VIDEO_TIME_LIMIT - 60, VIDEO_TIME_LIMIT * 3 // 4)
MAX_RETRIES = 8
_TRANSIENT_S3_CODES = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "InternalError",
    "ServiceUnavailable",
    "OperationAborted",
}


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` may go away by itself (worth a retry) rather than be a bug or bad data."""
    if isinstance(
        error, MediaAssetBusy | storage.ObjectArchived | OperationalError | InterfaceError
    ):
        return True
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        code = error.response.get("Error", {}).get("Code", "")
        return status >= 500 or code in _TRANSIENT_S3_CODES
    if isinstance(error, BotoCoreError):  # connection refused, timeouts, dropped connections
        return not isinstance(error, NoCredentialsError | NoRegionError | ParamValidationError)
    if isinstance(error, ConnectionError | TimeoutError):
        return True
    return isinstance(error, OSError) and error.errno in {errno.EIO, errno.ENOSPC, errno.EAGAIN}


def retry_if_transient(task, error: Exception) -> None:
    """Raise Celery's Retry (backoff 2, 4, 8 ... s up to 5 minutes, jittered) for a transient
    error; return for any other. After MAX_RETRIES the error itself is raised: the asset stays
    pending and the stuck-media sweeper queues it again later."""
    if is_transient(error):
        countdown = get_exponential_backoff_interval(
            factor=2, retries=task.request.retries, maximum=300, full_jitter=True
        )
        logger.warning("transient error in %s, retrying in %s s: %r", task.name, countdown, error)
        raise task.retry(exc=error, countdown=countdown, max_retries=MAX_RETRIES)


@shared_task(bind=True, soft_time_limit=MEDIA_SOFT_TIME_LIMIT, time_limit=MEDIA_TIME_LIMIT)
def media_asset_process_task(self, asset_id: int) -> None:
    from media import services  # the task body imports its service (services queue tasks)

    try:
        # The task id is the run's claim: a message delivered again after its worker died
        # carries the same id and takes the claim over at once.
        services.media_asset_process(asset_id=asset_id, run=self.request.id or "")
    except SoftTimeLimitExceeded:
        logger.warning("media asset %s hit the soft time limit", asset_id)
        services.media_asset_fail(
            asset_id=asset_id,
            reason="Processing this file took too long, so it was stopped. Try a smaller file.",
        )
    except Exception as error:
        retry_if_transient(self, error)
        # Not the file's fault and not transient: a bug. Fail the asset rather than leave it to
        # be swept and crash again every few minutes.
        logger.exception("processing media asset %s failed unexpectedly", asset_id)
        services.media_asset_fail(
            asset_id=asset_id, reason="Something went wrong processing this file."
        )


@shared_task(bind=True, soft_time_limit=60, time_limit=90)
def media_asset_purge_task(self, asset_id: int) -> None:
    from media import services  # the task body imports its service (services queue tasks)

    try:
        services.media_asset_purge(asset_id=asset_id)
    except Exception as error:
        retry_if_transient(self, error)
        raise


@shared_task(bind=True, soft_time_limit=120, time_limit=150)
def media_asset_sweep_stuck_task(self, older_than_minutes: float | None = None) -> int:
    """Periodic (beat): queue again the media left pending or processing (a lost message, a
    dead worker) for longer than a run's time limit, so a broker outage delays work but loses
    none."""
    from media import services  # the task body imports its service (services queue tasks)

    older_than = None if older_than_minutes is None else timedelta(minutes=older_than_minutes)
    return services.media_asset_sweep_stuck(older_than=older_than)


@shared_task(bind=True, soft_time_limit=120, time_limit=150)
def media_asset_sweep_unpublished_task(self) -> int:
    """Periodic (beat): release the uploads no pin or avatar used within the grace period
    (MEDIA_UNPUBLISHED_GRACE_HOURS); their purges delete the files."""
    from media import services  # the task body imports its service (services queue tasks)

    return services.media_asset_sweep_unpublished()


# Errors worth a retry for the upload sweeper: storage or database hiccups.
UPLOAD_SWEEP_RETRY_ERRORS = (BotoCoreError, ClientError, OSError, OperationalError)


@shared_task(autoretry_for=UPLOAD_SWEEP_RETRY_ERRORS, retry_backoff=30, max_retries=3)
def upload_sweep_task() -> int:
    """Periodic (beat): delete direct uploads nobody confirmed. The bucket's lifecycle rule on
    uploads/ is the backstop if this stops running."""
    from media import services  # the task body imports its service (services queue tasks)

    return services.upload_sweep()


# Listing a large bucket takes a while: its own limits, above the default task limit.
@shared_task(
    autoretry_for=UPLOAD_SWEEP_RETRY_ERRORS,
    retry_backoff=60,
    max_retries=3,
    soft_time_limit=1800,
    time_limit=1860,
)
def media_check_task(repair: bool = True, trigger: str = "schedule") -> int:
    """Daily (beat) and from the staff page: compare rows with objects, repair what it can and
    record the report (see media.check); returns how many problems it found."""
    from media import check  # the task body imports its service (services queue tasks)

    return check.media_check_run(repair=repair, trigger=trigger).problems


# --- Storage tiering (queue: tiering) --------------------------------------------------------
