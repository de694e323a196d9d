from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, OuterRef, Subquery, Value, prefetch_related_objects
from django.db.models.functions import Coalesce, Lower
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts import services
from accounts.forms import LoginForm, ProfileForm, SignUpForm
from accounts.http import SignedInRequest
from accounts.models import User, UserFollow
from accounts.usernames import username_normalize
from boards.selectors import board_list_for_owner
from media.selectors import media_asset_thumbnail_url
from pins.grid import PAGE_SIZE, broken_cursor, render_grid_page
from pins.selectors import pin_page_for_owner
from pinsite import ratelimit
from pinsite.db.compiled import shape

PROFILE_BOARDS = 48  # boards listed on a profile before "Show all boards"


class LoginView(auth_views.LoginView):
    """Django's log-in with a lockout: after ``RATE_LIMITS["login_account"]`` wrong passwords for
    one account, or ``["login_ip"]`` from one address, log-in is refused with "Too many attempts;
    try again in N minutes" (429) until the window ends, whatever password is given; the password
    is then not even checked. See ``pinsite.ratelimit`` for what happens when the cache is down."""

    redirect_authenticated_user = True
    authentication_form = LoginForm

    def _keys(self) -> dict[str, str]:
        typed = self.request.POST.get("username", "")[:150]
        return {
            "login_account": username_normalize(typed),
            "login_ip": ratelimit.client_ip(self.request),
        }

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        self.locked = None
        if self.request.method == "POST":
            for name, key in self._keys().items():
                verdict = ratelimit.check(name, key)
                if not verdict.allowed:
                    self.locked = verdict
                    kwargs["lockout"] = ratelimit.lockout_message(verdict)
                    break
        return kwargs

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if self.locked is not None:
            response.status_code = 429
            response["Retry-After"] = str(self.locked.retry_after)
        else:
            for name, key in self._keys().items():
                ratelimit.hit(name, key)
        return response


class PasswordResetView(auth_views.PasswordResetView):
    """Django's password reset (the same answer whether or not the address has an account), at
    most ``RATE_LIMITS["password_reset_email"]`` mails to one address and
    ``["password_reset_ip"]`` requests from one client per window."""

    def post(self, request, *args, **kwargs):
        email = request.POST.get("email", "").strip().lower()[:254]
        for name, key in (
            ("password_reset_ip", ratelimit.client_ip(request)),
            ("password_reset_email", email),
        ):
            verdict = ratelimit.hit(name, key)
            if not verdict.allowed:
                return ratelimit.too_many(
                    request,
                    verdict,
                    message="Too many password reset requests; try again in {wait}.",
                )
        return super().post(request, *args, **kwargs)


@require_http_methods(["GET", "HEAD", "POST"])
@ratelimit.rate_limited(
    "signup_ip",
    ratelimit.client_ip,
    message="Too many sign-ups from your network; try again in {wait}.",
)
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("pins:home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_sign_up(
                username=form.cleaned_data["username"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                site_url=request.build_absolute_uri("/"),
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


def _person_or_404(username: str, *, viewer=None) -> User:
    """The active person called ``username`` with their profile and avatar; with ``viewer``, also
    ``follower_count`` and ``viewer_follows`` in the same query (compiled once:
    ``pinsite.db.compiled``)."""
    signed_in = viewer is not None and viewer.is_authenticated
    values = {"viewer": viewer.pk} if signed_in else {}

    def build(stand_ins):
        # LOWER on both sides, as the unique index on lower(username) is written: iexact's
        # UPPER reads every person instead of one index entry.
        queryset = (
            User.objects.select_related("profile__avatar")
            .alias(name=Lower("username"))
            .filter(name=Lower(Value(stand_ins["username"])), is_active=True)
        )
        if viewer is not None:
            queryset = queryset.annotate(
                follower_count=Coalesce(
                    Subquery(
                        UserFollow.objects.filter(followee=OuterRef("pk"))
                        .values("followee")
                        .annotate(count=Count("*"))
                        .values("count")
                    ),
                    0,
                ),
                viewer_follows=Exists(
                    UserFollow.objects.filter(
                        followee=OuterRef("pk"), follower_id=stand_ins["viewer"]
                    )
                )
                if signed_in
                else Value(False),
            )
        return queryset.order_by("pk")[:1]

    compiled = shape(
        ("person", viewer is not None, signed_in),
        build,
        values=[*values, "username"],
        texts=["username"],
    )
    found = compiled.objects(User, **values, username=username)
    if not found:
        raise Http404("No such person")
    return found[0]


def avatar_url(profile) -> str:
    """The smallest ready rendition of ``profile``'s avatar, or "" (the page then shows none).
    Uses the avatar's prefetched renditions when the caller loaded them."""
    asset = profile.avatar if profile is not None else None
    if asset is None or asset.status != asset.Status.READY:
        return ""
    return media_asset_thumbnail_url(asset=asset)


@require_safe
def profile(request: HttpRequest, username: str) -> HttpResponse:
    person = _person_or_404(username, viewer=request.user)
    try:
        page = pin_page_for_owner(
            user=request.user, owner=person, cursor=request.GET.get("cursor"), limit=PAGE_SIZE
        )
    except ValueError:
        return broken_cursor(request)
    # The newest PROFILE_BOARDS boards, or all of them with ?boards=all (someone with hundreds
    # of boards made every view of their profile draw hundreds of links).
    all_boards = request.GET.get("boards") == "all"
    boards = (
        board_list_for_owner(
            user=request.user, owner=person, limit=None if all_boards else PROFILE_BOARDS + 1
        )
        if not request.GET.get("partial")
        else []
    )
    # People made by createsuperuser or the admin have no profile row until they edit it.
    person_profile = getattr(person, "profile", None)
    if person_profile is not None and person_profile.avatar is not None:
        # One query for the avatar's renditions (the rest of the page has its own).
        prefetch_related_objects([person_profile.avatar], "renditions")
    return render_grid_page(
        request,
        "accounts/user_detail.html",
        pins=page.pins,
        next_cursor=page.next_cursor,
        person=person,
        boards=boards if all_boards else boards[:PROFILE_BOARDS],
        more_boards=not all_boards and len(boards) > PROFILE_BOARDS,
        following=person.viewer_follows,  # type: ignore[attr-defined]  # _person_or_404 annotates
        follower_count=person.follower_count,  # type: ignore[attr-defined]  # _person_or_404 annotates
        avatar_url=avatar_url(person_profile),
    )


@login_required
@require_POST
def follow(request: SignedInRequest, username: str) -> HttpResponse:
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
@require_http_methods(["GET", "HEAD", "POST"])
def profile_edit(request: SignedInRequest) -> HttpResponse:
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
