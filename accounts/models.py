from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.urls import reverse

from pinsite.constraints import http_url_check


class User(AbstractUser):
    """A person with an account. Usernames are unique regardless of case."""

    class Meta:
        constraints = [
            # "Alice" and "alice" are the same person to everyone reading a profile URL.
            models.UniqueConstraint(Lower("username"), name="accounts_user_username_ci_unique"),
            models.UniqueConstraint(
                Lower("email"),
                condition=~Q(email=""),
                name="accounts_user_email_ci_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.username

    def get_absolute_url(self) -> str:
        return reverse("accounts:profile", kwargs={"username": self.username})


class Profile(models.Model):
    """What a person shows about themselves; one per user, created with the account."""

    user = models.OneToOneField(
        User, on_delete=models.CASCADE, primary_key=True, related_name="profile"
    )
    display_name = models.CharField(
        max_length=80, blank=True, help_text="Shown instead of the username."
    )
    bio = models.TextField(max_length=500, blank=True)
    website = models.URLField(max_length=2048, blank=True, help_text="An http or https link.")
    avatar = models.ForeignKey(
        "media.MediaAsset",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The avatar image; the asset is shared, so it is never deleted through a profile.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [http_url_check("website", "accounts_profile_website_http")]

    def __str__(self) -> str:
        return self.display_name or self.user.username

    def get_absolute_url(self) -> str:
        return self.user.get_absolute_url()


class UserFollow(models.Model):
    """``follower`` sees ``followee``'s new pins in their home feed."""

    follower = models.ForeignKey(User, on_delete=models.CASCADE, related_name="following_users")
    followee = models.ForeignKey(User, on_delete=models.CASCADE, related_name="followers")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["follower", "followee"], name="accounts_userfollow_unique"
            ),
            models.CheckConstraint(
                condition=~Q(follower=F("followee")), name="accounts_userfollow_not_self"
            ),
        ]
        indexes = [
            models.Index(fields=["followee", "-created_at"], name="accounts_follow_followee")
        ]

    def __str__(self) -> str:
        return f"{self.follower} follows {self.followee}"
