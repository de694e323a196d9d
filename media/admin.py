"""Staff views of media: assets, renditions and direct uploads, and the media check's page."""

from datetime import timedelta
from typing import cast

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import Truncator

from media import images, placeholders
from media import services as media_services
from media.check_page import media_check_page
from media.models import MediaAsset, MediaCheckReport, MediaRendition, PendingUpload
from media.selectors import media_asset_thumbnail_url
from pinsite.admin_site import PinsiteAdminSite


def thumbnail_html(asset: MediaAsset | None) -> str:
    if asset is None:
        return ""
    url = media_asset_thumbnail_url(asset=asset)
    if not url:
        return asset.get_status_display()
    return format_html(
        '<img src="{}" width="60" alt="" style="background:{}">',
        url,
        asset.dominant_color or "#eee",
    )


RENDITION_FIELDS = ("purpose", "width", "height", "format", "byte_size", "key")


class MediaRenditionInline(admin.TabularInline):
    model = MediaRendition
    extra = 0
    can_delete = False
    fields = RENDITION_FIELDS
    readonly_fields = RENDITION_FIELDS


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
        "created_at",
    ]
    list_filter = [
        NeedsAttentionFilter,
        "status",
        "kind",
        "format",
        "storage_tier",
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
        # Tiers change through tiering's sweep; staff pin or exclude with its list actions.
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
    actions = ["rebuild_renditions"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("renditions")

    @admin.display(description="Preview")
    def thumbnail(self, obj: MediaAsset) -> str:
        return thumbnail_html(obj)

    @admin.display(description="Renditions")
    def renditions_made(self, obj: MediaAsset) -> str:
        made = {(r.purpose, r.width, r.format) for r in obj.renditions.all()}
        wanted = images.rendition_set(obj.width) if obj.width else set()
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
        count = media_services.media_asset_rebuild(
            asset_ids=list(queryset.values_list("pk", flat=True))
        )
        self.message_user(request, f"Queued {count} asset(s) for rebuilding.", messages.SUCCESS)


@admin.register(MediaRendition)
class MediaRenditionAdmin(admin.ModelAdmin):
    list_display = ["key", "asset", "purpose", "width", "height", "format", "byte_size"]
    list_filter = ["purpose", "format"]
    list_select_related = ["asset"]
    search_fields = ["key"]
    raw_id_fields = ["asset"]


@admin.register(PendingUpload)
class PendingUploadAdmin(admin.ModelAdmin):
    """Direct uploads the server allowed; unconfirmed ones are swept (and expire in the bucket)."""

    list_display = ("key", "owner", "created_at", "expires_at", "confirmed_at", "asset")
    list_filter = (("confirmed_at", admin.EmptyFieldListFilter),)
    search_fields = ("key", "owner__username")
    raw_id_fields = ("owner", "asset")
    list_select_related = ("owner", "asset")
    date_hierarchy = "created_at"


cast(PinsiteAdminSite, admin.site).register_page(
    app_label="media",
    route="check/",
    view=media_check_page,
    name="check",
    title="Media check (rows against stored objects)",
    permission="media.view_mediacheckreport",
)


@admin.register(MediaCheckReport)
class MediaCheckReportAdmin(admin.ModelAdmin):
    """The media check's reports, written by the check alone: staff read them, never edit."""

    list_display = ["started_at", "trigger", "repair", "objects_listed", "assets_checked", "found"]
    list_filter = ["trigger", "repair"]
    search_fields = ["trigger"]
    date_hierarchy = "started_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
