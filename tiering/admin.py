"""Staff views of tiering: the storage dashboard, the policy, sweeps, transitions and snapshots,
and tiering's columns and actions on media's asset list."""

from typing import cast

from django.contrib import admin, messages

from media.admin import MediaAssetAdmin
from media.models import MediaAsset, StorageTier
from pinsite.admin_site import PinsiteAdminSite
from tiering import services
from tiering.dashboard import storage_dashboard
from tiering.forms import TieringPolicyForm
from tiering.models import StorageSnapshot, TieringPolicy, TieringSweep, TierTransition
from tiering.sweep import tiering_policy_get

cast(PinsiteAdminSite, admin.site).register_page(
    app_label="tiering",
    route="storage/",
    view=storage_dashboard,
    name="storage",
    title="Storage dashboard (tiers and costs)",
    permission="tiering.view_storagesnapshot",
)


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


# Tiering adds its columns, filters and actions to media's asset list (media knows no tiering).
admin.site.unregister(MediaAsset)


@admin.register(MediaAsset)
class TieredMediaAssetAdmin(MediaAssetAdmin):
    change_list_template = "admin/tiering/mediaasset_change_list.html"
    list_display = [
        *MediaAssetAdmin.list_display[:-1],
        "tiering",
        "read_rate_shown",
        "last_accessed_at",
        MediaAssetAdmin.list_display[-1],
    ]
    list_filter = [*MediaAssetAdmin.list_filter, "tier_pinned", "tier_excluded"]
    actions = [
        *MediaAssetAdmin.actions,
        *(f"pin_to_{tier.lower()}" for tier in services.TIER_PIN_CHOICES),
        "exclude_from_tiering",
        "include_in_tiering",
    ]

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
