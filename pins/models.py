from __future__ import annotations

from typing import cast

from django.conf import settings
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models import Exists, F, OuterRef, Q
from django.urls import reverse

from boards.models import BoardPin
from media.models import MediaAsset
from pinsite.constraints import http_url_check
from pinsite.search import SEARCH_CONFIG, OnPostgreSQL


class PinQuerySet(models.QuerySet):
    def visible_to(self, user) -> PinQuerySet:
        """The one visibility gate: pins ``user`` (maybe anonymous) may see, anywhere.

        A pin is visible when moderation has not hidden it and it is on a public board. On a
        secret board it is visible only to that board's owner and collaborators. The pin's owner
        always sees their own pins, unless staff removed them. Everyone else gets a 404.
        """
        visible = Q(moderation_state=Pin.Moderation.VISIBLE)
        on_public_board = Exists(
            BoardPin.objects.filter(pin=OuterRef("pk"), board__is_secret=False)
        )
        # Q & Exists is a Q (Q._combine); the stubs say Combinable.
        condition = cast(Q, visible & on_public_board)
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
            # A pin's newest saves ("saved by" on its page) without sorting all of them: a popular
            # pin has thousands.
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
