from django.conf import settings
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

if settings.DEBUG and settings.STORAGES["default"]["BACKEND"].endswith("FileSystemStorage"):
    from django.conf.urls.static import static

    # Local-disk media on the embedded default; S3 media is served by the bucket through signed URLs.
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
