from __future__ import annotations

from django.http import HttpRequest

from accounts.models import User


class SignedInRequest(HttpRequest):
    """For type checking only: the request a ``login_required`` view receives, whose ``user`` is
    a signed-in ``User`` (never ``AnonymousUser``)."""

    user: User
