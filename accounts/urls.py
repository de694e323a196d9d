from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy
from django.views.decorators.http import require_http_methods, require_safe

from accounts import views
from pinsite.ids import converters_register

converters_register()

# Django's auth views run their own checks (signed in already, a reset link) before the method's:
# refuse other methods first.
form_methods = require_http_methods(["GET", "HEAD", "POST"])

app_name = "accounts"
urlpatterns = [
    path("accounts/signup/", views.signup, name="signup"),
    path(
        "accounts/login/",
        form_methods(views.LoginView.as_view()),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password-reset/",
        form_methods(
            views.PasswordResetView.as_view(
                success_url=reverse_lazy("accounts:password_reset_done"),
                email_template_name="registration/password_reset_email.txt",
            )
        ),
        name="password_reset",
    ),
    path(
        "accounts/password-reset/sent/",
        require_safe(auth_views.PasswordResetDoneView.as_view()),
        name="password_reset_done",
    ),
    path(
        "accounts/password-reset/<uidb64>/<token>/",
        form_methods(
            auth_views.PasswordResetConfirmView.as_view(
                success_url=reverse_lazy("accounts:password_reset_complete")
            )
        ),
        name="password_reset_confirm",
    ),
    path(
        "accounts/password-reset/done/",
        require_safe(auth_views.PasswordResetCompleteView.as_view()),
        name="password_reset_complete",
    ),
    path("accounts/profile/", views.profile_edit, name="profile_edit"),
    path("people/<name:username>/", views.profile, name="profile"),
    path("people/<name:username>/follow/", views.follow, name="follow"),
]
