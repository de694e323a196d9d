from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm

from accounts.models import Profile, User
from accounts.usernames import username_normalize, username_validate
from pinsite.bidi import bidi_controls_guard


class SignUpForm(forms.Form):
    username = forms.CharField(
        max_length=30,
        help_text="3-30 letters a-z, digits, dots, dashes or underscores.",
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = forms.CharField(
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 8 characters; not only digits, not a common password.",
    )

    def clean_username(self) -> str:
        name = username_normalize(self.cleaned_data["username"])
        username_validate(name)
        if User.objects.filter(username__iexact=name).exists():
            raise forms.ValidationError("That name is taken. Please choose another.", code="taken")
        return name

    def clean_email(self) -> str:
        # Whether the address has an account is not said here: see accounts.services.user_sign_up.
        return self.cleaned_data["email"].strip().lower()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean returns cleaned_data
        password = cleaned.get("password")
        if password:
            candidate = User(username=cleaned.get("username", ""), email=cleaned.get("email", ""))
            try:
                password_validation.validate_password(password, candidate)
            except forms.ValidationError as error:
                self.add_error("password", error)
        return cleaned


class ProfileForm(forms.ModelForm):
    # A plain file field: pinsite's media service checks the bytes itself (format, size, pixels).
    avatar_file = forms.FileField(
        required=False, label="Avatar", help_text="A JPEG, PNG, GIF or WebP image."
    )

    website = forms.URLField(
        max_length=2048,
        required=False,
        assume_scheme="https",
        widget=forms.URLInput(attrs={"placeholder": "https://"}),
        help_text="An http or https link.",
    )

    class Meta:
        model = Profile
        fields = ["display_name", "bio", "website"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        bidi_controls_guard(self, ["display_name", "bio"])


class LoginForm(AuthenticationForm):
    """Log in with the name as typed at sign-up: "Alice" and its full-width form are "alice".

    ``lockout``: the message to refuse with, without checking the password, while the account or
    the address is locked for too many wrong passwords (``accounts.views.LoginView``)."""

    def __init__(self, request=None, *args, lockout: str = "", **kwargs):
        super().__init__(request, *args, **kwargs)
        self.lockout = lockout

    def clean(self) -> dict[str, Any]:
        if self.lockout:
            raise forms.ValidationError(self.lockout, code="locked")
        return super().clean()

    def clean_username(self) -> str:
        typed = self.cleaned_data["username"]
        # Usernames are unique regardless of case, so this finds at most one person; it also
        # finds staff made by createsuperuser, whose names skipped sign-up's normalisation.
        stored = (
            User.objects.filter(username__iexact=username_normalize(typed))
            .values_list("username", flat=True)
            .first()
        )
        return stored or typed
