from django.urls import path

from media import views

app_name = "media"
urlpatterns = [
    path("pin/upload/", views.pin_upload, name="upload"),
    path("pin/upload/start/", views.pin_upload_start, name="upload_start"),
    path("pin/upload/confirm/", views.pin_upload_confirm, name="upload_confirm"),
    # Local media (settings.MEDIA_URL), through signed URLs only; S3 media never comes here.
    path("media/<path:key>", views.media_file, name="file"),
]
