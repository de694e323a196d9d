"""Tiering's records: the policy staff edit, each sweep, each object moved, and the daily storage bill."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from media.models import MediaAsset, StorageTier


class TieringPolicy(models.Model):
    """The tiering settings staff edit in the admin: one row (pk 1), made on first use.

    The numbers are ``tiering.policy.Thresholds``; saving validates them there, so the admin and
    the sweep agree on what is allowed. Prices stay in settings (``TIERING_PRICES``).
    """

    class Mode(models.TextChoices):
        APP = "app", "pinsite moves objects by observed access"
        INTELLIGENT = "intelligent", "S3 Intelligent-Tiering decides (new originals go there)"
        OFF = "off", "Off: nothing moves"

    mode = models.CharField(max_length=12, choices=Mode.choices, default=Mode.APP)
    infrequent_after_days = models.PositiveIntegerField(
        default=30, help_text="Days without access before STANDARD_IA is considered."
    )
    archive_after_days = models.PositiveIntegerField(
        default=90, help_text="Days without access before GLACIER_IR is considered."
    )
    min_object_bytes = models.PositiveBigIntegerField(
        default=128 * 1024, help_text="Smaller objects stay STANDARD (S3 bills them as 128 KB)."
    )
    horizon_days = models.PositiveIntegerField(
        default=180, help_text="How far ahead a move's saving is counted."
    )
    promote_reads_per_month = models.FloatField(
        default=1.0, help_text="Read rate from which moving back to a warmer tier is considered."
    )
    batch_size = models.PositiveIntegerField(
        default=500, help_text="Assets per batch in a sweep (each batch is one transaction)."
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        db_table = "pins_tieringpolicy"  # made when this model lived in pins; the name is kept
        verbose_name_plural = "tiering policy"
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="pins_tieringpolicy_single_row"),
            models.CheckConstraint(
                condition=Q(batch_size__gte=1, batch_size__lte=10_000),
                name="pins_tieringpolicy_batch_size_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Tiering policy ({self.get_mode_display()})"


class TieringSweep(models.Model):
    """One run of the tiering sweep (or a dry run), with what it looked at and what it moved."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RUNNING)
    mode = models.CharField(max_length=12, choices=TieringPolicy.Mode.choices)
    dry_run = models.BooleanField(default=False)
    bytes_moved_on_storage = models.BooleanField(
        default=True, help_text="False on local disk: tiers are recorded, no bytes move."
    )
    examined = models.PositiveBigIntegerField(default=0, help_text="Objects looked at.")
    moved = models.PositiveBigIntegerField(default=0, help_text="Objects moved (or to move).")
    bytes_moved = models.PositiveBigIntegerField(default=0)
    s3_calls = models.PositiveBigIntegerField(default=0)
    expected_monthly_saving = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    error = models.TextField(blank=True)

    # A dry run's moves (``tiering.sweep.PlannedMove``), set by the sweep: not a column.
    planned: list[Any]

    class Meta:
        db_table = "pins_tieringsweep"  # made when this model lived in pins; the name is kept
        ordering = ["-started_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="running") | Q(finished_at__isnull=False),
                name="pins_tieringsweep_finished_has_time",
            ),
        ]

    def __str__(self) -> str:
        kind = "Dry run" if self.dry_run else "Sweep"
        return f"{kind} {self.started_at:%Y-%m-%d %H:%M} ({self.get_status_display()})"


class TierTransition(models.Model):
    """One object moved between storage tiers: from, to, when, why and what it should save."""

    class Cause(models.TextChoices):
        POLICY = "policy", "Policy (sweep)"
        STAFF = "staff", "Pinned by staff"
        RESTORE = "restore", "Restored on access"

    asset = models.ForeignKey(MediaAsset, on_delete=models.CASCADE, related_name="transitions")
    sweep = models.ForeignKey(
        TieringSweep,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="transitions",
    )
    key = models.CharField(max_length=512, help_text="The object moved.")
    object_bytes = models.PositiveBigIntegerField()
    from_tier = models.CharField(max_length=20, choices=StorageTier.choices)
    to_tier = models.CharField(max_length=20, choices=StorageTier.choices)
    cause = models.CharField(max_length=8, choices=Cause.choices, default=Cause.POLICY)
    reason = models.CharField(max_length=200)
    expected_monthly_saving = models.DecimalField(
        max_digits=14, decimal_places=8, help_text="$ a month, expected; negative if staff chose."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "pins_tiertransition"  # made when this model lived in pins; the name is kept
        constraints = [
            models.CheckConstraint(
                condition=~Q(from_tier=F("to_tier")), name="pins_tiertransition_changes_tier"
            ),
        ]
        indexes = [
            models.Index(fields=["created_at"], name="pins_tiertransition_created"),
        ]

    def __str__(self) -> str:
        return f"{self.key}: {self.from_tier} -> {self.to_tier}"


class StorageSnapshot(models.Model):
    """The stored bytes and the monthly bill on one day, for the savings chart (one row a day)."""

    day = models.DateField(unique=True)
    objects_by_tier = models.JSONField(default=dict, help_text="{tier: object count}")
    bytes_by_tier = models.JSONField(default=dict, help_text="{tier: bytes}")
    monthly_cost = models.DecimalField(max_digits=14, decimal_places=4, help_text="$ as stored.")
    monthly_cost_all_standard = models.DecimalField(max_digits=14, decimal_places=4)
    monthly_cost_intelligent = models.DecimalField(
        max_digits=14,
        decimal_places=4,
        help_text="$ if S3 Intelligent-Tiering held everything (monitoring fee included).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "pins_storagesnapshot"  # made when this model lived in pins; the name is kept
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"Storage on {self.day}"
