"""Invisible text-direction controls in names and titles: refused, with a message saying so.

U+202A-U+202E (embeddings and overrides), U+2066-U+2069 (isolates), U+200E/U+200F (marks) and
U+061C (Arabic letter mark) change the order in which the characters around them are drawn: a
title "photo<U+202E>gpj.exe" reads as "photoexe.jpg", and an override left open in a name
reverses the rest of the line it is shown on. Names and titles never need them (a right-to-left
script shows right-to-left without them), so every form and every service that stores a name,
title or description refuses them with ``bidi_controls_refuse``; nothing is silently changed.
"""

from __future__ import annotations

from collections.abc import Iterable

from django import forms
from django.core.exceptions import ValidationError

BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
MESSAGE = (
    "Remove the invisible characters that change the direction of text "
    "(such as U+202E); they can make words read differently from what they are."
)


def bidi_controls_refuse(value: str) -> None:
    """A field validator: ValidationError (code ``bidi_control``) when ``value`` has one."""
    if isinstance(value, str) and not BIDI_CONTROLS.isdisjoint(value):
        raise ValidationError(MESSAGE, code="bidi_control")


def bidi_controls_check(**fields: str) -> None:
    """For services: ValidationError naming each of ``fields`` that holds a direction control."""
    refused = {
        name: MESSAGE for name, value in fields.items() if not BIDI_CONTROLS.isdisjoint(value)
    }
    if refused:
        raise ValidationError(refused, code="bidi_control")


def bidi_controls_guard(form: forms.BaseForm, names: Iterable[str]) -> None:
    """Give the form's fields ``names`` the validator (call from the form's ``__init__``)."""
    for name in names:
        form.fields[name].validators.append(bidi_controls_refuse)
