"""Tiering's staff writes: pinning or excluding assets, and the policy."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from media.models import MediaAsset, StorageTier
from tiering.models import TieringPolicy
from tiering.policy import Thresholds

# Tiers staff may pin an asset to (INTELLIGENT_TIERING is the policy's mode, not a pin).
TIER_PIN_CHOICES = [
    StorageTier.STANDARD,
    StorageTier.STANDARD_IA,
    StorageTier.GLACIER_IR,
    StorageTier.GLACIER,
]


def media_asset_tier_pin(*, asset_ids: list[int], tier: str) -> int:
    """Keep these assets' objects in ``tier`` whatever the policy says (staff). The objects move
    at the next sweep. A pin replaces an exclusion (the database allows one or the other).
    Returns how many assets changed."""
    if tier not in TIER_PIN_CHOICES:
        raise ValidationError(f"Assets cannot be pinned to {tier!r}.", code="invalid_tier")
    return (
        MediaAsset.objects.filter(pk__in=asset_ids)
        .exclude(tier_pinned=tier)
        .update(tier_pinned=tier, tier_excluded=False, updated_at=timezone.now())
    )


def media_asset_tier_exclude(*, asset_ids: list[int], excluded: bool) -> int:
    """``excluded=True``: nothing of these assets moves any more (clears a pin). ``False``: hand
    them back to the policy (clears the exclusion and any pin). Returns how many changed."""
    changed = Q(tier_excluded=not excluded) | ~Q(tier_pinned="")
    return MediaAsset.objects.filter(changed, pk__in=asset_ids).update(
        tier_excluded=excluded, tier_pinned="", updated_at=timezone.now()
    )


TIERING_THRESHOLD_FIELDS = [
    "infrequent_after_days",
    "archive_after_days",
    "min_object_bytes",
    "horizon_days",
    "promote_reads_per_month",
]


TIERING_POLICY_FIELDS = ["mode", *TIERING_THRESHOLD_FIELDS, "batch_size"]


def tiering_policy_check(*, values: dict) -> None:
    """Raise ValidationError, by field, for policy values the sweep would refuse: the numbers
    are ``tiering.policy.Thresholds`` and its checks are the rule."""
    errors: dict[str, list[str]] = {}
    if values.get("mode") not in TieringPolicy.Mode.values:
        errors["mode"] = ["Choose how objects are tiered."]
    batch_size = values.get("batch_size")
    if batch_size is None or not 1 <= batch_size <= 10_000:
        errors["batch_size"] = ["Batch size must be between 1 and 10,000."]
    try:
        thresholds: dict[str, Any] = {name: values.get(name) for name in TIERING_THRESHOLD_FIELDS}
        Thresholds(**thresholds)
    except TypeError:  # a threshold left empty
        errors[NON_FIELD_ERRORS] = ["Every threshold needs a number."]
    except ValueError as error:
        # Thresholds says "<field> must ...; <field> cannot ...": each part to its field.
        for problem in str(error).split("; "):
            field = problem.split(" ", 1)[0]
            if field not in TIERING_THRESHOLD_FIELDS:
                field = NON_FIELD_ERRORS
            errors.setdefault(field, []).append(problem)
    if errors:
        raise ValidationError(
            {
                field: [ValidationError(message, code="invalid") for message in messages]
                for field, messages in errors.items()
            }
        )


def tiering_policy_update(*, user, **values) -> TieringPolicy:
    """Change the tiering policy (staff). Checked as a whole first (``tiering_policy_check``):
    a refused change raises ValidationError and changes nothing."""
    unknown = set(values) - set(TIERING_POLICY_FIELDS)
    if unknown:
        raise ValueError(f"not policy fields: {sorted(unknown)}")
    with transaction.atomic():
        policy, _ = TieringPolicy.objects.select_for_update().get_or_create(pk=1)
        merged = {name: values.get(name, getattr(policy, name)) for name in TIERING_POLICY_FIELDS}
        tiering_policy_check(values=merged)
        for name, value in merged.items():
            setattr(policy, name, value)
        policy.updated_by = user
        policy.save()
    return policy
