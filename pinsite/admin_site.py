"""pinsite's admin site: Django's, plus staff pages that are not one model's.

An app adds such a page with ``admin.site.register_page(...)`` in its ``admin.py``; the site
serves it under ``/admin/<app_label>/<route>`` (URL name ``admin:<app_label>_<name>``) and lists
it first in that app's section of the index and the sidebar, for staff holding its permission.

Every admin view answers GET, HEAD and POST only (405 otherwise), like the site's own views.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import admin
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_http_methods

# What a page or a form uses; Django's admin would otherwise treat PUT or PATCH like GET.
admin_methods = require_http_methods(["GET", "HEAD", "POST"])


@dataclass(frozen=True)
class StaffPage:
    app_label: str
    route: str
    view: Any
    name: str
    title: str
    permission: str


class PinsiteAdminSite(admin.AdminSite):
    site_header = "pinsite staff"
    site_title = "pinsite staff"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[StaffPage] = []

    def admin_view(self, view, cacheable=False):
        # Outermost: refused before the log-in wall, the same for everyone.
        return admin_methods(super().admin_view(view, cacheable))

    @method_decorator(admin_methods)
    def login(self, request, extra_context=None):
        return super().login(request, extra_context)

    def register_page(self, **page: Any) -> None:
        self._pages.append(StaffPage(**page))

    def get_urls(self):
        return [
            *(
                path(
                    f"{page.app_label}/{page.route}",
                    self.admin_view(page.view),
                    name=f"{page.app_label}_{page.name}",
                )
                for page in self._pages
            ),
            *super().get_urls(),
        ]

    def get_app_list(self, request, app_label=None):
        app_list = super().get_app_list(request, app_label)
        for page in self._pages:
            if not request.user.has_perm(page.permission):
                continue
            for app in app_list:
                if app["app_label"] == page.app_label:
                    app["models"].insert(
                        0,
                        {
                            "name": page.title,
                            "object_name": page.name.title(),
                            "admin_url": reverse(
                                f"admin:{page.app_label}_{page.name}", current_app=self.name
                            ),
                            "add_url": None,
                            "view_only": True,
                            "perms": {"view": True},
                        },
                    )
        return app_list
