"""What a username may be: normalised, unambiguous and not one of the site's own words."""

from __future__ import annotations

import re
import unicodedata

from django.core.exceptions import ValidationError

# ASCII only: letters from other scripts that look like Latin ones (Cyrillic "a" vs Latin "a") would let two
# different accounts show the same name.
USERNAME_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9_.-]{1,28}[a-z0-9])$")
RESERVED = frozenset(
    [
        "about",
        "account",
        "accounts",
        "admin",
        "administrator",
        "api",
        "app",
        "assets",
        "billing",
        "blog",
        "board",
        "boards",
        "contact",
        "demo-admin",
        "explore",
        "feed",
        "help",
        "home",
        "healthz",
        "login",
        "logout",
        "media",
        "me",
        "moderator",
        "new",
        "null",
        "official",
        "people",
        "pin",
        "pins",
        "pinsite",
        "privacy",
        "report",
        "root",
        "search",
        "security",
        "settings",
        "signup",
        "staff",
        "static",
        "support",
        "system",
        "terms",
        "undefined",
        "user",
        "users",
        "webmaster",
        "www",
    ]
)


def username_normalize(raw: str) -> str:
    """NFKC-fold and lowercase, so full-width and styled letters collapse to one spelling."""
    return unicodedata.normalize("NFKC", raw).strip().lower()


def username_validate(name: str) -> None:
    """Raise ValidationError with a sentence for the person when ``name`` (normalised) is refused."""
    if not USERNAME_PATTERN.match(name):
        raise ValidationError(
            "Use 3-30 letters a-z, digits, dots, dashes or underscores, starting and ending with a "
            "letter or digit.",
            code="invalid_username",
        )
    if name in RESERVED or name.replace(".", "").replace("-", "").replace("_", "") in RESERVED:
        raise ValidationError(
            "That name is reserved. Please choose another.", code="reserved_username"
        )
