from django.urls import path

from pins import views

app_name = "pins"
urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.search, name="search"),
    path("pin/new/", views.pin_new, name="new"),
    path("pin/publish/", views.pin_publish, name="publish"),
    path("pin/status/", views.media_status, name="status"),
    path("pin/<int:pk>/", views.pin_detail, name="detail"),
    path("pin/<int:pk>/save/", views.pin_save, name="save"),
    path("pin/<int:pk>/report/", views.pin_report, name="report"),
    path("pin/<int:pk>/delete/", views.pin_delete, name="delete"),
]
