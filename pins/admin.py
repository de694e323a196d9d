from datetime import timedelta

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import Truncator

from accounts.admin import HTTPS_URL_FIELDS
from pins import media, placeholders, services, storage
from pins.forms import TieringPolicyForm
from pins.models import (
    MediaAsset,
    MediaRendition,
    PendingUpload,
    Pin,
    PinReport,
    StorageSnapshot,
    StorageTier,
    TieringPolicy,
    TieringSweep,
    TierTransition,
)
from pins.tier_sweep import tiering_policy_get


def _thumbnail(asset: MediaAsset | None) -> str:
    if asset is None:
        return ""
    grid = [r for r in asset.renditions.all() if r.purpose == "grid" and r.format == "webp"]
    if not grid:
        return asset.get_status_display()
    return format_html(
        '<img src="{}" width="60" alt="" style="background:{}">',
        storage.url_for(key=min(grid, key=lambda r: r.width).key),
        asset.dominant_color or "#eee",
    )


class MediaRenditionInline(admin.TabularInline):
    model = MediaRendition
    extra = 0
    can_delete = False
    fields = ["purpose", "width", "height", "format", "byte_size", "key"]
    readonly_fields = fields


class NeedsAttentionFilter(admin.SimpleListFilter):
    """Assets staff should look at: failed ones, and ones stuck before ready."""

    title = "needs attention"
    parameter_name = "attention"
    STUCK_AFTER = timedelta(minutes=15)

    def lookups(self, request, model_admin):
        return [("failed", "Failed"), ("stuck", "Stuck in pending or processing (15+ min)")]

    def queryset(self, request, queryset):
        if self.value() == "failed":
            return queryset.filter(status=MediaAsset.Status.FAILED)
        if self.value() == "stuck":
            return queryset.filter(
                status__in=[MediaAsset.Status.PENDING, MediaAsset.Status.PROCESSING],
                updated_at__lt=timezone.now() - self.STUCK_AFTER,
            )
        return queryset


@admin.register(MediaAsset)
class MediaAssetAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "thumbnail",
        "owner",
        "kind",
        "format",
        "width",
        "height",
        "byte_size",
        "status",
        "renditions_made",
        "failure",
        "storage_tier",
        "tiering",
        "read_rate_shown",
        "last_accessed_at",
        "created_at",
    ]
    list_filter = [
        NeedsAttentionFilter,
        "status",
        "kind",
        "format",
        "storage_tier",
        "tier_pinned",
        "tier_excluded",
    ]
    list_select_related = ["owner"]
    search_fields = ["original_key", "content_hash", "owner__username", "failure_reason"]
    raw_id_fields = ["owner"]
    readonly_fields = [
        "content_hash",
        "original_key",
        "status",
        "failure_reason",
        "interrupted_runs",
        "placeholder_preview",
        "processed_at",
        "released_at",
        # Tiers change through the sweep; staff pin or exclude with the list's actions.
        "storage_tier",
        "tier_changed_at",
        "tier_pinned",
        "tier_excluded",
        "last_accessed_at",
        "read_rate",
        "read_rate_at",
        "reads_total",
        "restore_requested_at",
    ]
    inlines = [MediaRenditionInline]
    actions = [
        "rebuild_renditions",
        *(f"pin_to_{tier.lower()}" for tier in services.TIER_PIN_CHOICES),
        "exclude_from_tiering",
        "include_in_tiering",
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("renditions")

    @admin.display(description="Preview")
    def thumbnail(self, obj: MediaAsset) -> str:
        return _thumbnail(obj)

    @admin.display(description="Renditions")
    def renditions_made(self, obj: MediaAsset) -> str:
        made = {(r.purpose, r.width, r.format) for r in obj.renditions.all()}
        wanted = media.rendition_set(obj.width) if obj.width else set()
        return f"{len(made & wanted)} of {len(wanted)}" if wanted else str(len(made))

    @admin.display(description="Failure reason")
    def failure(self, obj: MediaAsset) -> str:
        return Truncator(obj.failure_reason).chars(80) if obj.status == "failed" else ""

    @admin.display(description="Placeholder")
    def placeholder_preview(self, obj: MediaAsset) -> str:
        uri = placeholders.data_uri(obj.placeholder)
        if not uri:
            return "-"
        return format_html(
            '<img src="{}" width="96" alt="" style="image-rendering:auto"> <code>{}</code>',
            uri,
            obj.placeholder,
        )

    @admin.action(description="Rebuild renditions from the original (in the background)")
    def rebuild_renditions(self, request, queryset) -> None:
        count = services.media_asset_rebuild(asset_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Queued {count} asset(s) for rebuilding.", messages.SUCCESS)

    @admin.display(description="Tiering")
    def tiering(self, obj: MediaAsset) -> str:
        if obj.tier_excluded:
            return "excluded"
        if obj.tier_pinned:
            return f"pinned to {obj.tier_pinned}"
        return "policy"

    @admin.display(description="Reads/month", ordering="read_rate")
    def read_rate_shown(self, obj: MediaAsset) -> str:
        return f"{obj.read_rate:.1f}"

    def _pin(self, request, queryset, tier: str) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        count = services.media_asset_tier_pin(asset_ids=ids, tier=tier)
        when = (
            "Tiering is off, so they move once it is turned on."
            if tiering_policy_get().mode == TieringPolicy.Mode.OFF
            else "Their objects move at the next sweep."
        )
        self.message_user(
            request,
            f"Pinned {count} asset(s) to {tier} ({len(ids) - count} already were). {when}",
            messages.SUCCESS,
        )

    @admin.action(description="Pin to STANDARD")
    def pin_to_standard(self, request, queryset) -> None:
        self._pin(request, queryset, StorageTier.STANDARD)

    @admin.action(description="Pin to STANDARD_IA")
    def pin_to_standard_ia(self, request, queryset) -> None:
        self._pin(request, queryset, StorageTier.STANDARD_IA)

    @admin.action(description="Pin to GLACIER_IR")
    def pin_to_glacier_ir(self, request, queryset) -> None:
        self._pin(request, queryset, StorageTier.GLACIER_IR)

    @admin.action(description="Pin to GLACIER (archive: reads need a restore first)")
    def pin_to_glacier(self, request, queryset) -> None:
        self._pin(request, queryset, StorageTier.GLACIER)

    @admin.action(description="Exclude from tiering (nothing moves)")
    def exclude_from_tiering(self, request, queryset) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        count = services.media_asset_tier_exclude(asset_ids=ids, excluded=True)
        self.message_user(
            request,
            f"Excluded {count} asset(s) from tiering; they stay in their current tier.",
            messages.SUCCESS,
        )

    @admin.action(description="Include in tiering again (the policy decides; clears pins)")
    def include_in_tiering(self, request, queryset) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        count = services.media_asset_tier_exclude(asset_ids=ids, excluded=False)
        self.message_user(
            request,
            f"Handed {count} asset(s) back to the tiering policy; "
            "any move happens at the next sweep.",
            messages.SUCCESS,
        )


@admin.register(MediaRendition)
class MediaRenditionAdmin(admin.ModelAdmin):
    list_display = ["key", "asset", "purpose", "width", "height", "format", "byte_size"]
    list_filter = ["purpose", "format"]
    list_select_related = ["asset"]
    search_fields = ["key"]
    raw_id_fields = ["asset"]


class PinReportInline(admin.TabularInline):
    model = PinReport
    extra = 0
    raw_id_fields = ["reporter", "resolved_by"]


@admin.register(Pin)
class PinAdmin(admin.ModelAdmin):
    formfield_overrides = HTTPS_URL_FIELDS
    list_display = ["id", "thumbnail", "title", "owner", "moderation_state", "parent", "created_at"]
    list_filter = ["moderation_state", "created_at"]
    list_select_related = ["owner", "media", "parent"]
    search_fields = ["title", "description", "owner__username"]
    raw_id_fields = ["owner", "media", "parent"]
    date_hierarchy = "created_at"
    inlines = [PinReportInline]
    actions = ["hide", "make_visible"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("media__renditions")

    @admin.display(description="Preview")
    def thumbnail(self, obj: Pin) -> str:
        return _thumbnail(obj.media)

    @admin.action(description="Hide from everyone but the owner")
    def hide(self, request, queryset) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        count = services.pin_moderate(pin_ids=ids, state=Pin.Moderation.HIDDEN)
        self.message_user(request, f"Hid {count} pin(s).", messages.SUCCESS)

    @admin.action(description="Make visible again")
    def make_visible(self, request, queryset) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        count = services.pin_moderate(pin_ids=ids, state=Pin.Moderation.VISIBLE)
        self.message_user(request, f"Made {count} pin(s) visible.", messages.SUCCESS)

    def delete_model(self, request, obj: Pin) -> None:
        services.pin_delete(pin=obj)

    def delete_queryset(self, request, queryset) -> None:
        # Deleting through the service releases media that no other pin uses.
        for pin in queryset:
            services.pin_delete(pin=pin)


@admin.register(PinReport)
class PinReportAdmin(admin.ModelAdmin):
    list_display = ["pin", "reason", "status", "reporter", "created_at", "resolved_by"]
    list_filter = ["status", "reason", "created_at"]
    list_select_related = ["pin", "reporter", "resolved_by"]
    search_fields = ["pin__title", "reporter__username", "detail"]
    raw_id_fields = ["pin", "reporter", "resolved_by"]


@admin.register(PendingUpload)
class PendingUploadAdmin(admin.ModelAdmin):
    """Direct uploads the server allowed; unconfirmed ones are swept (and expire in the bucket)."""

    list_display = ("key", "owner", "created_at", "expires_at", "confirmed_at", "asset")
    list_filter = (("confirmed_at", admin.EmptyFieldListFilter),)
    search_fields = ("key", "owner__username")
    raw_id_fields = ("owner", "asset")
    list_select_related = ("owner", "asset")
    date_hierarchy = "created_at"


class HistoryAdmin(admin.ModelAdmin):
    """Records the system writes (sweeps, transitions, snapshots): staff read them, never edit."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(TieringPolicy)
class TieringPolicyAdmin(admin.ModelAdmin):
    """The single policy row (pk 1); the storage dashboard edits it too, with the same checks."""

    form = TieringPolicyForm
    list_display = ["__str__", "infrequent_after_days", "archive_after_days", "updated_at"]
    readonly_fields = ["updated_by", "updated_at"]
    search_fields = ["mode"]

    def has_add_permission(self, request) -> bool:
        return not TieringPolicy.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        values = {name: form.cleaned_data[name] for name in services.TIERING_POLICY_FIELDS}
        policy = services.tiering_policy_update(user=request.user, **values)
        obj.pk = policy.pk


@admin.register(TieringSweep)
class TieringSweepAdmin(HistoryAdmin):
    list_display = [
        "started_at",
        "status",
        "mode",
        "dry_run",
        "examined",
        "moved",
        "bytes_moved",
        "s3_calls",
        "expected_monthly_saving",
    ]
    list_filter = ["status", "mode", "dry_run"]
    search_fields = ["error"]
    date_hierarchy = "started_at"


@admin.register(TierTransition)
class TierTransitionAdmin(HistoryAdmin):
    list_display = [
        "key",
        "from_tier",
        "to_tier",
        "cause",
        "reason",
        "expected_monthly_saving",
        "created_at",
    ]
    list_filter = ["cause", "from_tier", "to_tier"]
    search_fields = ["key"]
    raw_id_fields = ["asset", "sweep"]
    date_hierarchy = "created_at"


@admin.register(StorageSnapshot)
class StorageSnapshotAdmin(HistoryAdmin):
    list_display = ["day", "monthly_cost", "monthly_cost_all_standard", "monthly_cost_intelligent"]
    date_hierarchy = "day"
    search_fields = ["day"]
