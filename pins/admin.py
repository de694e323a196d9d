from django.contrib import admin, messages
from django.utils.html import format_html

from accounts.admin import HTTPS_URL_FIELDS
from media.selectors import media_asset_thumbnail_url
from pins import services
from pins.models import Pin, PinReport


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
        url = media_asset_thumbnail_url(asset=obj.media)
        if not url:
            return obj.media.get_status_display()
        return format_html('<img src="{}" width="60" alt="">', url)

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
