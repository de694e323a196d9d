"""Writes for accounts."""

from __future__ import annotations

from django.db import transaction

from accounts.models import Profile, User


def user_create(
    *, username: str, email: str = "", password: str | None = None, display_name: str = ""
) -> User:
    """Create a person with their profile. Raises ValidationError for a taken or invalid name."""
    user = User(username=User.normalize_username(username.strip()), email=email.strip().lower())
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(password)
    user.full_clean()
    with transaction.atomic():
        user.save()
        Profile.objects.create(user=user, display_name=display_name.strip())
    return user
