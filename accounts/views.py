from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts import services
from accounts.forms import ProfileForm, SignUpForm
from accounts.models import User, UserFollow
from boards.selectors import board_list_for_owner
from pins import storage
from pins.selectors import pin_list_for_owner
from pins.views import GRID_SIZES, pin_cards


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("pins:home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_create(
                username=form.cleaned_data["username"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(
                request, f"Welcome to pinsite, {user.username}. Make a board to start."
            )
            return redirect("boards:create")
    return render(request, "accounts/signup.html", {"form": form})


def _person_or_404(username: str) -> User:
    person = (
        User.objects.select_related("profile__avatar")
        .filter(username__iexact=username, is_active=True)
        .first()
    )
    if person is None:
        raise Http404("No such person")
    return person


def avatar_url(profile) -> str:
    """The smallest ready rendition of ``profile``'s avatar, or "" (the page then shows none)."""
    asset = profile.avatar if profile is not None else None
    if asset is None or asset.status != asset.Status.READY:
        return ""
    rendition = asset.renditions.filter(purpose="grid").order_by("width").first()
    return storage.url_for(key=rendition.key) if rendition else ""


def profile(request: HttpRequest, username: str) -> HttpResponse:
    person = _person_or_404(username)
    pins = pin_list_for_owner(user=request.user, owner=person, limit=50)
    following = (
        request.user.is_authenticated
        and UserFollow.objects.filter(follower=request.user, followee=person).exists()
    )
    return render(
        request,
        "accounts/user_detail.html",
        {
            "person": person,
            "boards": board_list_for_owner(user=request.user, owner=person),
            "cards": pin_cards(pins),
            "sizes": GRID_SIZES,
            "following": following,
            "follower_count": person.followers.count(),
            # People made by createsuperuser or the admin have no profile row until they edit it.
            "avatar_url": avatar_url(getattr(person, "profile", None)),
        },
    )


@login_required
@require_POST
def follow(request: HttpRequest, username: str) -> HttpResponse:
    person = _person_or_404(username)
    if request.POST.get("action") == "unfollow":
        services.user_unfollow(follower=request.user, followee=person)
        messages.success(request, f"You no longer follow {person.username}.")
    else:
        try:
            services.user_follow(follower=request.user, followee=person)
        except ValidationError as error:
            messages.error(request, error.messages[0])
        else:
            messages.success(
                request, f"You follow {person.username}; their new pins show in your feed."
            )
    return redirect(person.get_absolute_url())


@login_required
def profile_edit(request: HttpRequest) -> HttpResponse:
    profile = services.Profile.objects.get_or_create(user=request.user)[0]
    form = ProfileForm(request.POST or None, request.FILES or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data.get("avatar_file")
        try:
            services.profile_update(
                user=request.user,
                display_name=form.cleaned_data["display_name"],
                bio=form.cleaned_data["bio"],
                website=form.cleaned_data["website"],
                avatar_data=upload.read() if upload else None,
            )
        except ValidationError as error:
            form.add_error("avatar_file" if upload else None, error)
        else:
            messages.success(request, "Profile saved.")
            return redirect(request.user.get_absolute_url())
    return render(request, "accounts/profile_form.html", {"form": form})
