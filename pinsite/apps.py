from django.contrib.admin.apps import AdminConfig


class PinsiteAdminConfig(AdminConfig):
    """Django's admin with pinsite's site (``pinsite.admin_site``): its staff pages and links."""

    default_site = "pinsite.admin_site.PinsiteAdminSite"
