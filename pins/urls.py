from django.urls import path

from pins import views

app_name = "pins"
urlpatterns = [
    path("", views.home, name="home"),
    path("pin/<int:pk>/", views.pin_detail, name="detail"),
]
