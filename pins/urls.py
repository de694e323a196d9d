from django.urls import path

from pins import views
from pinsite.ids import converters_register

converters_register()

app_name = "pins"
urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.search, name="search"),
    path("pin/new/", views.pin_new, name="new"),
    path("pin/publish/", views.pin_publish, name="publish"),
    path("pin/status/", views.media_status, name="status"),
    path("pin/<id:pk>/", views.pin_detail, name="detail"),
    path("pin/<id:pk>/save/", views.pin_save, name="save"),
    path("pin/<id:pk>/report/", views.pin_report, name="report"),
    path("pin/<id:pk>/delete/", views.pin_delete, name="delete"),
]
