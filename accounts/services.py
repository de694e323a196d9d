"""Writes for accounts: creating people, their profiles and who follows whom."""

from __future__ import annotations

import logging
import smtplib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string

from accounts.models import Profile, User, UserFollow
from accounts.usernames import username_normalize, username_validate
from media.services import media_asset_create, media_asset_release
from pinsite.bidi import bidi_controls_check

logger = logging.getLogger(__name__)


def user_create(
    *, username: str, email: str = "", password: str | None = None, display_name: str = ""
) -> User:
    """Create a person with their profile. Raises ValidationError for a taken or refused name."""
    bidi_controls_check(display_name=display_name)
    name = username_normalize(username)
    username_validate(name)
    user = User(username=name, email=email.strip().lower())
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(password)
    user.full_clean()
    with transaction.atomic():
        user.save()
        Profile.objects.create(user=user, display_name=display_name.strip())
    return user


def user_sign_up(*, username: str, email: str, password: str, site_url: str) -> User:
    """Create a person from the sign-up form, without telling whether ``email`` has an account.

    Either way the person signing up gets the same answer (their new account, logged in) and the
    address gets one mail: a welcome for a new address; for an address that already has an
    account, a note to its owner naming that account and how to reset its password, and the new
    account is made without the address (it can be added later; the owner's stays theirs).
    ``site_url`` ("https://pins.example.com") begins the links in the mail.
    Raises ValidationError for a refused name or password, as ``user_create``."""
    email = email.strip().lower()
    owner = User.objects.filter(email__iexact=email).first() if email else None
    user = None
    if owner is None:
        try:
            user = user_create(username=username, email=email, password=password)
        except ValidationError as error:
            owner = User.objects.filter(email__iexact=email).first()
            if owner is None:  # not a race on the address: a real refusal
                raise error from None
    if user is None:
        user = user_create(username=username, email="", password=password)
    template = (
        "accounts/signup_welcome_email.txt"
        if owner is None
        else "accounts/signup_address_in_use_email.txt"
    )
    context = {"user": user, "owner": owner, "site_url": site_url.rstrip("/")}
    try:
        send_mail(
            subject="Welcome to pinsite" if owner is None else "Your address and pinsite",
            message=render_to_string(template, context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[email],
        )
    except (OSError, smtplib.SMTPException):
        # A mail server that is down costs the mail, not the sign-up (EMAIL_TIMEOUT bounds it).
        logger.exception("sign-up mail to a new account's address could not be sent")
    return user


def profile_update(
    *, user: User, display_name: str, bio: str, website: str, avatar_data: bytes | None = None
) -> Profile:
    """Update ``user``'s profile; a new avatar replaces the old one, which is released if unused."""
    fields = {"display_name": display_name.strip(), "bio": bio.strip(), "website": website.strip()}
    bidi_controls_check(display_name=display_name, bio=bio)
    profile, _ = Profile.objects.get_or_create(user=user)
    # Check the words before storing any bytes: a refused edit must leave no unreferenced avatar.
    for name, value in fields.items():
        setattr(profile, name, value)
    profile.full_clean()
    new_avatar = media_asset_create(owner=user, data=avatar_data) if avatar_data else None
    with transaction.atomic():
        profile = Profile.objects.select_for_update().get(pk=profile.pk)
        old_avatar = profile.avatar
        for name, value in fields.items():
            setattr(profile, name, value)
        if new_avatar is not None:
            profile.avatar = new_avatar
        profile.full_clean()
        profile.save()
        if new_avatar is not None and old_avatar is not None and old_avatar.pk != new_avatar.pk:
            media_asset_release(asset=old_avatar)
    return profile


def user_follow(*, follower: User, followee: User) -> UserFollow:
    if follower.pk == followee.pk:
        raise ValidationError("You cannot follow yourself.", code="self_follow")
    try:
        with transaction.atomic():
            follow, _ = UserFollow.objects.get_or_create(follower=follower, followee=followee)
    except IntegrityError:  # a concurrent identical follow won the race; same outcome
        follow = UserFollow.objects.get(follower=follower, followee=followee)
    return follow


def user_unfollow(*, follower: User, followee: User) -> None:
    UserFollow.objects.filter(follower=follower, followee=followee).delete()
