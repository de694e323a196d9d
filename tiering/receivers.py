"""Tiering's answers to what media tells it (``media.signals``); media never imports tiering."""

from __future__ import annotations

from django.dispatch import receiver

from media import signals
from media.models import StorageTier
from tiering.access import record
from tiering.models import TieringPolicy
from tiering.restore import tiering_restore_request
from tiering.sweep import tiering_policy_get


@receiver(signals.original_tier_wanted, dispatch_uid="tiering.original_tier")
def original_tier(sender, **kwargs) -> str | None:
    """New originals go to INTELLIGENT_TIERING when the policy lets S3 decide the tiers."""
    if tiering_policy_get().mode == TieringPolicy.Mode.INTELLIGENT:
        return StorageTier.INTELLIGENT_TIERING
    return None


@receiver(signals.original_archived, dispatch_uid="tiering.original_archived")
def restore_original(sender, *, asset_id: int, **kwargs) -> None:
    tiering_restore_request(asset_id=asset_id)


@receiver(signals.large_view_served, dispatch_uid="tiering.large_view_served")
def count_access(sender, *, asset_ids, archived=(), **kwargs) -> None:
    """Count the access (no database write) and restore the large views that are archived."""
    record(asset_ids)
    for asset_id in archived:
        tiering_restore_request(asset_id=asset_id)
