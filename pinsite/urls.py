from django.contrib import admin
from django.urls import include, path

from pinsite import health

urlpatterns = [
    path("", include("pins.urls")),
    path("", include("media.urls")),
    path("boards/", include("boards.urls")),
    path("", include("accounts.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("healthz/replicas", health.replicas, name="healthz-replicas"),
    path("metrics", health.metrics, name="metrics"),
    path("admin/", admin.site.urls),
]

# A database that is not answering gets a calm 503 (pinsite/errors.py); anything else the 500 page.
handler500 = "pinsite.errors.server_error"
