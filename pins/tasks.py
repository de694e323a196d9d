"""Celery tasks for media: thin wrappers that take ids and call one service each."""

from __future__ import annotations

import logging

from botocore.exceptions import BotoCoreError, ClientError
from celery import shared_task
from django.db import OperationalError

from pins import services

logger = logging.getLogger(__name__)

# Errors worth a retry: storage or database hiccups. A bad file is not transient and is recorded
# on the asset as "failed" by the service instead.
TRANSIENT_ERRORS = (BotoCoreError, ClientError, OSError, OperationalError)


@shared_task(
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=8,
)
def media_asset_process_task(asset_id: int) -> None:
    services.media_asset_process(asset_id=asset_id)


@shared_task(
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=8,
)
def media_asset_purge_task(asset_id: int) -> None:
    services.media_asset_purge(asset_id=asset_id)


@shared_task(autoretry_for=TRANSIENT_ERRORS, retry_backoff=30, max_retries=3)
def upload_sweep_task() -> int:
    """Periodic (beat): delete direct uploads nobody confirmed. The bucket's lifecycle rule on
    uploads/ is the backstop if this stops running."""
    return services.upload_sweep()
