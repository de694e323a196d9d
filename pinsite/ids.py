"""Row ids read from URLs, query strings and forms: 1 to 2**63-1, written in ASCII digits; and
the names in paths (usernames, board slugs), which never hold a NUL.

Every id column is a 64-bit integer, so a larger number can name no row; handed to the database it
overflows (SQLite and PostgreSQL both raise), and Python's ``int()`` and ``str.isdigit()`` accept
digits a person never types for an id (``"²"``, ``"١٢"``, ``" 12 "``). So ids are parsed here once:

- in paths, the ``<id:pk>`` converter (``converters_register``): anything else does not match
  the route, which is a 404;
- in query values and JSON bodies, ``id_parse`` / ``ids_parse``: ``None`` or ``ValueError`` for the
  view to answer 400 (or ignore the value);
- in forms, ``IdField``: "Choose one of the listed items." as the form error.

A name in a path (``<name:username>``, ``<name:slug>``) is any text without "/" or NUL: no
database text can hold a NUL (PostgreSQL refuses the query outright), so such a path is a 404.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.urls import register_converter
from django.urls.converters import get_converters

MAX_ID = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")


def id_parse(raw: Any) -> int | None:
    """``raw`` as a row id, or None when it is not 1..2**63-1 in ASCII digits (ints accepted)."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw if 1 <= raw <= MAX_ID else None
    if not isinstance(raw, str) or not _DIGITS.fullmatch(raw):
        return None
    value = int(raw)
    return value if 1 <= value <= MAX_ID else None


def ids_parse(raw: str, *, limit: int) -> list[int]:
    """Comma-separated ids (empty parts skipped), at most ``limit`` of them; ValueError naming
    the first part that is not an id."""
    ids = []
    for part in raw.split(",")[: limit * 2]:
        if not part:
            continue
        value = id_parse(part)
        if value is None:
            raise ValueError(f"{part[:40]!r} is not an id")
        ids.append(value)
    return ids[:limit]


class IdConverter:
    """Path converter ``<id:name>``: a row id, so ``/pin/99999999999999999999/`` is a plain 404."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        parsed = id_parse(value)
        if parsed is None:
            raise ValueError("not a row id")  # the resolver then tries the next route: 404
        return parsed

    def to_url(self, value: int) -> str:
        return str(value)


class NameConverter:
    """Path converter ``<name:name>``: like ``<str:...>`` but never a NUL (no row has one)."""

    regex = "[^/\x00]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


def converters_register() -> None:
    """Make ``<id:...>`` and ``<name:...>`` known to URL patterns (each app's urls calls this
    before its patterns; registering twice is harmless)."""
    known = get_converters()
    for name, converter in (("id", IdConverter), ("name", NameConverter)):
        if name not in known:
            register_converter(converter, name)


class IdField(forms.IntegerField):
    """A form field for a row id; any other value is "Choose one of the listed items."."""

    default_error_messages = {"invalid": "Choose one of the listed items."}

    def to_python(self, value: Any) -> int | None:
        if value in self.empty_values:
            return None
        parsed = id_parse(value.strip() if isinstance(value, str) else value)
        if parsed is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return parsed
