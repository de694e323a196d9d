from django.contrib import admin, messages
from django.db import transaction
from django.utils.html import format_html

from accounts.admin import HTTPS_URL_FIELDS
from pins import services, storage
from pins.models import MediaAsset, MediaRendition, PendingUpload, Pin, PinReport


def _thumbnail(asset: MediaAsset | None) -> str:
    if asset is None:
        return ""
    grid = [r for r in asset.renditions.all() if r.purpose == "grid"]
    if not grid:
        return asset.get_status_display()
    return format_html(
        '<img src="{}" width="60" alt="" style="background:{}">',
        storage.url_for(key=grid[0].key),
        asset.dominant_color or "#eee",
    )


class MediaRenditionInline(admin.TabularInline):
    model = MediaRendition
    extra = 0
    can_delete = False
    fields = ["purpose", "width", "height", "format", "byte_size", "key"]
    readonly_fields = fields


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
        "storage_tier",
        "created_at",
    ]
    list_filter = ["status", "kind", "format", "storage_tier"]
    list_select_related = ["owner"]
    search_fields = ["original_key", "content_hash", "owner__username"]
    raw_id_fields = ["owner"]
    readonly_fields = ["content_hash", "original_key", "processed_at", "released_at"]
    inlines = [MediaRenditionInline]
    actions = ["process_renditions"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("renditions")

    @admin.display(description="Preview")
    def thumbnail(self, obj: MediaAsset) -> str:
        return _thumbnail(obj)

    @admin.action(description="Make missing renditions (in the background)")
    def process_renditions(self, request, queryset) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        from pins.tasks import media_asset_process_task

        transaction.on_commit(lambda: [media_asset_process_task.delay(pk) for pk in ids])
        self.message_user(request, f"Queued {len(ids)} asset(s) for processing.", messages.SUCCESS)


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
