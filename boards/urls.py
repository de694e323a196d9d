from django.urls import path

from boards import views

app_name = "boards"
urlpatterns = [
    path("<str:username>/<str:slug>/", views.board_detail, name="detail"),
]
