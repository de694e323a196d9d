from django.urls import path

from boards import views
from pinsite.ids import converters_register

converters_register()

app_name = "boards"
urlpatterns = [
    path("new/", views.board_create, name="create"),
    path("<name:username>/<name:slug>/", views.board_detail, name="detail"),
    path("<name:username>/<name:slug>/edit/", views.board_edit, name="edit"),
    path("<name:username>/<name:slug>/delete/", views.board_delete, name="delete"),
    path("<name:username>/<name:slug>/follow/", views.board_follow, name="follow"),
    path("<name:username>/<name:slug>/members/", views.board_members, name="members"),
    path("<name:username>/<name:slug>/reorder/", views.board_reorder, name="reorder"),
]
