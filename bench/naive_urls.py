"""The bench's URLs: the site's own, plus the naive baseline under /naive/ (bench.settings only)."""

from django.urls import include, path

from bench import naive_views
from pinsite.urls import urlpatterns as site_urlpatterns

naive_patterns = [
    path("", naive_views.home, name="home"),
    path("search/", naive_views.search, name="search"),
    path("pin/<int:pk>/", naive_views.pin_detail, name="detail"),
    path("boards/<str:username>/<str:slug>/", naive_views.board_detail, name="board"),
    path("people/<str:username>/", naive_views.profile, name="profile"),
]

urlpatterns = [path("naive/", include((naive_patterns, "naive"))), *site_urlpatterns]
