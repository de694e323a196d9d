from django.urls import path

from boards import views

app_name = "boards"
urlpatterns = [
    path("new/", views.board_create, name="create"),
    path("<str:username>/<str:slug>/", views.board_detail, name="detail"),
    path("<str:username>/<str:slug>/edit/", views.board_edit, name="edit"),
    path("<str:username>/<str:slug>/delete/", views.board_delete, name="delete"),
    path("<str:username>/<str:slug>/follow/", views.board_follow, name="follow"),
    path("<str:username>/<str:slug>/members/", views.board_members, name="members"),
    path("<str:username>/<str:slug>/reorder/", views.board_reorder, name="reorder"),
]
