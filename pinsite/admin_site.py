"""pinsite's admin site: Django's, plus staff pages that are not one model's (the storage
dashboard), with a link to each in the app list and the sidebar."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path, reverse


class PinsiteAdminSite(admin.AdminSite):
    site_header = "pinsite staff"
    site_title = "pinsite staff"

    def get_urls(self):
        from pins.storage_dashboard import storage_dashboard

        return [
            path("pins/storage/", self.admin_view(storage_dashboard), name="pins_storage"),
            *super().get_urls(),
        ]

    def get_app_list(self, request, app_label=None):
        app_list = super().get_app_list(request, app_label)
        if not request.user.has_perm("pins.view_storagesnapshot"):
            return app_list
        for app in app_list:
            if app["app_label"] == "pins":
                app["models"].insert(
                    0,
                    {
                        "name": "Storage dashboard (tiers and costs)",
                        "object_name": "StorageDashboard",
                        "admin_url": reverse("admin:pins_storage", current_app=self.name),
                        "add_url": None,
                        "view_only": True,
                        "perms": {"view": True},
                    },
                )
        return app_list
