from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Length
from django.db.models.lookups import Exact
from django.urls import reverse
from django.utils import timezone

from pinsite.constraints import http_url_check
from pinsite.search import SEARCH_CONFIG, OnPostgreSQL


class StorageTier(models.TextChoices):
    """S3 storage classes pinsite moves objects between (names are the S3 API's own)."""

    STANDARD = "STANDARD", "Standard"
    STANDARD_IA = "STANDARD_IA", "Standard-IA"
    GLACIER_IR = "GLACIER_IR", "Glacier Instant Retrieval"
    # Reads need a restore first (hours on AWS); only staff pin objects here.
    GLACIER = "GLACIER", "Glacier Flexible Retrieval (restore before reading)"
    INTELLIGENT_TIERING = "INTELLIGENT_TIERING", "Intelligent-Tiering (S3 decides)"


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

    class Meta:
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


class PinQuerySet(models.QuerySet):
    def visible_to(self, user) -> PinQuerySet:
        """The one visibility gate: pins ``user`` (maybe anonymous) may see, anywhere.

        A pin is visible when moderation has not hidden it and it is on a public board. On a
        secret board it is visible only to that board's owner and collaborators. The pin's owner
        always sees their own pins, unless staff removed them. Everyone else gets a 404.
        """
        from boards.models import BoardPin

        visible = Q(moderation_state=Pin.Moderation.VISIBLE)
        on_public_board = Exists(
            BoardPin.objects.filter(pin=OuterRef("pk"), board__is_secret=False)
        )
        condition = visible & on_public_board
        if user is not None and user.is_authenticated:
            member_of_secret_board = Exists(
                BoardPin.objects.filter(pin=OuterRef("pk"), board__is_secret=True).filter(
                    Q(board__owner=user) | Q(board__collaborators=user)
                )
            )
            condition |= (visible & member_of_secret_board) | (
                Q(owner=user) & ~Q(moderation_state=Pin.Moderation.REMOVED)
            )
        return self.filter(condition)


class Pin(models.Model):
    """An image or video someone put on pinsite, with the words that describe it.

    Saving another person's pin creates a new pin owned by the saver with ``parent`` set, sharing
    the same media asset; that chain is the save lineage ("saved from").
    """

    class Moderation(models.TextChoices):
        VISIBLE = "visible", "Visible"
        HIDDEN = "hidden", "Hidden by staff (owner still sees it)"
        REMOVED = "removed", "Removed by staff"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pins"
    )
    media = models.ForeignKey(MediaAsset, on_delete=models.PROTECT, related_name="pins")
    parent = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="saves",
        help_text="The pin this one was saved from.",
    )
    title = models.CharField(max_length=200, blank=True)
    description = models.TextField(max_length=2000, blank=True)
    alt_text = models.CharField(
        max_length=500, blank=True, help_text="Describes the image for people who cannot see it."
    )
    source_url = models.URLField(
        max_length=2048, blank=True, help_text="Where the image comes from (http or https)."
    )
    moderation_state = models.CharField(
        max_length=8, choices=Moderation.choices, default=Moderation.VISIBLE
    )
    moderation_note = models.TextField(blank=True, help_text="Staff only.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=False)
    updated_at = models.DateTimeField(auto_now=True)
    # Title (weight A) and description (B) as an English tsvector, kept by PostgreSQL itself and
    # GIN-indexed (migration 0006): search matches and ranks on it without re-parsing any text.
    search_document = models.GeneratedField(
        expression=OnPostgreSQL(
            SearchVector("title", config=SEARCH_CONFIG, weight="A")
            + SearchVector("description", config=SEARCH_CONFIG, weight="B"),
            output_field=SearchVectorField(),
        ),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    objects = PinQuerySet.as_manager()

    class Meta:
        constraints = [
            http_url_check("source_url", "pins_pin_source_url_http"),
            models.CheckConstraint(condition=~Q(parent=F("id")), name="pins_pin_not_own_parent"),
        ]
        indexes = [
            # Keyset pagination of the feed and of a profile: (created_at, id) descending.
            models.Index(F("created_at").desc(), F("id").desc(), name="pins_pin_created_id"),
            models.Index(fields=["owner", "-created_at"], name="pins_pin_owner_created"),
            # A pin's newest saves ("saved by" on its page) without sorting all of them: the most
            # saved pin of the 1M-pin benchmark has 7,000.
            models.Index(fields=["parent", "-created_at", "-id"], name="pins_pin_parent_created"),
        ]

    def __str__(self) -> str:
        return self.title or f"Pin {self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("pins:detail", kwargs={"pk": self.pk})


class PinReport(models.Model):
    """Someone's report that a pin breaks the rules; it waits in the staff queue."""

    class Reason(models.TextChoices):
        SPAM = "spam", "Spam or misleading"
        NUDITY = "nudity", "Nudity or sexual content"
        VIOLENCE = "violence", "Violence or self-harm"
        HATE = "hate", "Hate or harassment"
        INTELLECTUAL_PROPERTY = "ip", "Intellectual property"
        OTHER = "other", "Something else"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACTIONED = "actioned", "Actioned"
        DISMISSED = "dismissed", "Dismissed"

    pin = models.ForeignKey(Pin, on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="pin_reports"
    )
    reason = models.CharField(max_length=10, choices=Reason.choices)
    detail = models.TextField(max_length=1000, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["pin", "reporter"],
                condition=Q(status="open"),
                name="pins_report_one_open_per_reporter",
            ),
            models.CheckConstraint(
                condition=Q(status="open") | Q(resolved_at__isnull=False),
                name="pins_report_resolved_has_time",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="pins_report_queue")]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} report on pin {self.pin_id}"


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


class TieringPolicy(models.Model):
    """The tiering settings staff edit in the admin: one row (pk 1), made on first use.

    The numbers are ``pins.tiering.Thresholds``; saving validates them there, so the admin and
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

    class Meta:
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
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"Storage on {self.day}"
