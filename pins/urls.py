from django.urls import path

from media import views as media_views
from pins import views

app_name = "pins"
urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.search, name="search"),
    path("pin/new/", views.pin_new, name="new"),
    path("pin/upload/", media_views.pin_upload, name="upload"),
    path("pin/upload/start/", media_views.pin_upload_start, name="upload_start"),
    path("pin/upload/confirm/", media_views.pin_upload_confirm, name="upload_confirm"),
    path("pin/publish/", views.pin_publish, name="publish"),
    path("pin/status/", views.media_status, name="status"),
    path("pin/<int:pk>/", views.pin_detail, name="detail"),
    path("pin/<int:pk>/save/", views.pin_save, name="save"),
    path("pin/<int:pk>/report/", views.pin_report, name="report"),
    path("pin/<int:pk>/delete/", views.pin_delete, name="delete"),
]
