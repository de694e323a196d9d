from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.models import User
from boards.selectors import board_list_for_owner


def profile(request: HttpRequest, username: str) -> HttpResponse:
    person = (
        User.objects.select_related("profile")
        .filter(username__iexact=username, is_active=True)
        .first()
    )
    if person is None:
        raise Http404("No such person")
    return render(
        request,
        "accounts/user_detail.html",
        {"person": person, "boards": board_list_for_owner(user=request.user, owner=person)},
    )
