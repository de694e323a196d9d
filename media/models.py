"""What media owns: uploaded files (assets), their derivatives (renditions) and direct uploads in flight."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length
from django.db.models.lookups import Exact


class StorageTier(models.TextChoices):
    """S3 storage classes pinsite moves objects between (names are the S3 API's own)."""

    STANDARD = "STANDARD", "Standard"
    STANDARD_IA = "STANDARD_IA", "Standard-IA"
    GLACIER_IR = "GLACIER_IR", "Glacier Instant Retrieval"
    # Reads need a restore first (hours on AWS); only staff pin objects here.
    GLACIER = "GLACIER", "Glacier Flexible Retrieval (restore before reading)"
    INTELLIGENT_TIERING = "INTELLIGENT_TIERING", "Intelligent-Tiering (S3 decides)"


# Tiers whose objects must be restored before they can be read.
ARCHIVED_TIERS = frozenset({StorageTier.GLACIER})


class MediaAsset(models.Model):
    """One uploaded file (image or short video) and what processing learnt about it.

    An asset is shared: a pin, every save of that pin and an avatar may point at it. It is
    reference-counted by those rows (``Pin.media`` and ``Profile.avatar`` are PROTECT), so deleting
    one pin never deletes the file; ``pins.services.media_asset_release`` removes it with the last
    reference.
    """

    class Kind(models.TextChoices):
        IMAGE = "image", "Image"
        VIDEO = "video", "Video"

    class Format(models.TextChoices):
        JPEG = "jpeg", "JPEG"
        PNG = "png", "PNG"
        GIF = "gif", "GIF"
        WEBP = "webp", "WebP"
        HEIC = "heic", "HEIC"
        AVIF = "avif", "AVIF"
        MP4 = "mp4", "MP4"
        WEBM = "webm", "WebM"
        MOV = "mov", "QuickTime"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be processed"
        PROCESSING = "processing", "Processing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="media_assets",
        help_text="Who uploaded it. Saves by others keep pointing at the same asset.",
    )
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.IMAGE)
    original_key = models.CharField(
        max_length=512, unique=True, help_text="Storage key of the original, chosen by the server."
    )
    content_hash = models.CharField(
        max_length=64,
        blank=True,
        help_text="SHA-256 of the original's bytes, hex; finds duplicates.",
    )
    byte_size = models.PositiveBigIntegerField(
        default=0, help_text="Size of the original in bytes."
    )
    format = models.CharField(
        max_length=8, choices=Format.choices, blank=True, help_text="Sniffed from the bytes."
    )
    width = models.PositiveIntegerField(
        null=True, blank=True, help_text="Pixels, after orientation."
    )
    height = models.PositiveIntegerField(
        null=True, blank=True, help_text="Pixels, after orientation."
    )
    duration_ms = models.PositiveIntegerField(null=True, blank=True, help_text="Videos only.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    interrupted_runs = models.PositiveSmallIntegerField(
        default=0,
        help_text="Processing runs that never finished (worker killed, out of memory, time limit); "
        "the asset fails after a few.",
    )
    build_token = models.CharField(
        max_length=64,
        blank=True,
        help_text="The processing run that claimed the asset (its task id); empty when none.",
    )
    build_started_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When that run claimed it; a claim older than the task's time limit is dead.",
    )
    failure_reason = models.TextField(
        blank=True, help_text="Shown to the owner when processing fails."
    )
    dominant_color = models.CharField(
        max_length=7, blank=True, help_text="#rrggbb shown in the card while the image loads."
    )
    placeholder = models.CharField(
        max_length=128,
        blank=True,
        help_text="ThumbHash of the image, base64: pages draw it while the thumbnail loads.",
    )
    storage_tier = models.CharField(
        max_length=20,
        choices=StorageTier.choices,
        default=StorageTier.STANDARD,
        help_text="Storage class of the original (renditions record their own).",
    )
    tier_changed_at = models.DateTimeField(
        null=True, blank=True, help_text="Last tier change; S3's minimum-duration clock restarts."
    )
    last_accessed_at = models.DateTimeField(
        null=True, blank=True, help_text="Last time the app handed out a URL for its large view."
    )
    read_rate = models.FloatField(
        default=0.0,
        help_text="Reads a month, exponentially weighted (half-life 30 days), from the access "
        "counters as of read_rate_at.",
    )
    read_rate_at = models.DateTimeField(null=True, blank=True)
    reads_total = models.PositiveBigIntegerField(default=0)
    tier_pinned = models.CharField(
        max_length=20,
        choices=StorageTier.choices,
        blank=True,
        help_text="Staff keep this asset's objects in this tier, whatever the policy says.",
    )
    tier_excluded = models.BooleanField(
        default=False, help_text="Staff excluded this asset from tiering: nothing moves."
    )
    restore_requested_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="A restore from an archive tier is under way; pages show it as preparing.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Set when the last reference went; the files are being deleted.",
    )

    # What a card draws, set by ``pins.selectors`` on the assets of a page (not a column).
    drawn_renditions: list[Any]

    class Meta:
        db_table = "pins_mediaasset"  # made when this model lived in pins; the name is kept
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "content_hash"],
                condition=~Q(content_hash=""),
                name="pins_mediaasset_owner_hash_unique",
            ),
            models.CheckConstraint(
                condition=~Q(status="failed") | ~Q(failure_reason=""),
                name="pins_mediaasset_failed_has_reason",
            ),
            models.CheckConstraint(
                # NULL > 0 is unknown, which a CHECK lets through: test for NULL explicitly.
                condition=~Q(status="ready")
                | Q(width__isnull=False, height__isnull=False, width__gt=0, height__gt=0),
                name="pins_mediaasset_ready_has_size",
            ),
            models.CheckConstraint(
                condition=Q(kind="video") | Q(duration_ms__isnull=True),
                name="pins_mediaasset_duration_video_only",
            ),
            models.CheckConstraint(
                condition=Q(dominant_color="")
                | Q(Exact(Length("dominant_color"), 7), dominant_color__startswith="#"),
                name="pins_mediaasset_dominant_color_hex",
            ),
            models.CheckConstraint(
                condition=Q(read_rate__gte=0), name="pins_mediaasset_read_rate_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(tier_pinned="") | Q(tier_excluded=False),
                name="pins_mediaasset_tier_pinned_or_excluded",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "updated_at"], name="pins_asset_status_updated"),
            models.Index(fields=["storage_tier", "id"], name="pins_asset_tier_id"),
        ]

    def __str__(self) -> str:
        return self.original_key

    @property
    def aspect_ratio(self) -> float | None:
        if self.width and self.height:
            return self.width / self.height
        return None


class MediaRendition(models.Model):
    """A derivative of an asset (grid thumbnail, large view, video poster or transcode)."""

    class Purpose(models.TextChoices):
        GRID = "grid", "Grid thumbnail"
        LARGE = "large", "Large view"
        POSTER = "poster", "Video poster"
        VIDEO = "video", "Video transcode"

    asset = models.ForeignKey(MediaAsset, on_delete=models.CASCADE, related_name="renditions")
    purpose = models.CharField(max_length=8, choices=Purpose.choices)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    format = models.CharField(max_length=8, help_text="webp, jpeg, avif or mp4.")
    key = models.CharField(max_length=512, unique=True, help_text="Deterministic storage key.")
    byte_size = models.PositiveBigIntegerField()
    storage_tier = models.CharField(
        max_length=20,
        choices=StorageTier.choices,
        default=StorageTier.STANDARD,
        help_text="Renditions under the minimum billable size (128 KB) always stay STANDARD.",
    )
    tier_changed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "pins_mediarendition"  # made when this model lived in pins; the name is kept
        constraints = [
            models.UniqueConstraint(
                fields=["asset", "purpose", "width", "format"], name="pins_rendition_unique"
            ),
            models.CheckConstraint(
                condition=Q(width__gt=0, height__gt=0), name="pins_rendition_positive_size"
            ),
        ]

    def __str__(self) -> str:
        return self.key


class PendingUpload(models.Model):
    """A direct-to-S3 upload the server allowed: the key it chose, for whom, and until when.

    Confirming checks the object against this row (same person, not expired, not used) before
    anything is made of it; rows never confirmed are swept, with their objects, within a day.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pending_uploads"
    )
    key = models.CharField(max_length=512, unique=True, help_text="uploads/<user>/<random>.")
    max_bytes = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(help_text="The browser's upload form stops working here.")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # A confirmed upload's record goes with its asset when that is purged.
    asset = models.ForeignKey(
        MediaAsset, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )

    class Meta:
        db_table = "pins_pendingupload"  # made when this model lived in pins; the name is kept
        constraints = [
            models.CheckConstraint(
                condition=Q(confirmed_at__isnull=True) | Q(asset__isnull=False),
                name="pins_pendingupload_confirmed_has_asset",
            ),
            models.CheckConstraint(
                condition=Q(key__startswith="uploads/"), name="pins_pendingupload_key_prefix"
            ),
        ]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=Q(confirmed_at__isnull=True),
                name="pins_pendingupload_open",
            )
        ]

    def __str__(self) -> str:
        return self.key


class MediaAssetBusy(Exception):
    """Another run holds the asset's row lock; try again shortly (the task retries)."""


class MediaCheckReport(models.Model):
    """What one run of the media check (``media.check``) found, and repaired if asked.

    ``found`` and ``repaired`` map a problem kind (see ``media.check.PROBLEMS``) to a count;
    ``examples`` holds a few keys or asset ids per kind, for staff to look at.
    """

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Daily schedule"
        STAFF = "staff", "Staff (Check now)"
        COMMAND = "command", "manage.py media_check"

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    repair = models.BooleanField(help_text="Whether this run repaired what it could.")
    objects_listed = models.PositiveIntegerField(help_text="Objects under the app's prefixes.")
    assets_checked = models.PositiveIntegerField()
    renditions_checked = models.PositiveIntegerField()
    found = models.JSONField(default=dict, help_text="Problems found, by kind.")
    repaired = models.JSONField(default=dict, help_text="Problems repaired, by kind.")
    examples = models.JSONField(default=dict, help_text="A few keys or asset ids per kind.")

    class Meta:
        ordering = ["-started_at"]
        get_latest_by = "started_at"
        constraints = [
            models.CheckConstraint(
                condition=Q(finished_at__gte=models.F("started_at")),
                name="media_checkreport_finished_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"media check of {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def problems(self) -> int:
        return sum(self.found.values())
