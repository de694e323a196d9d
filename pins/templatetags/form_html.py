"""``{% form_fields form %}``: ``_form.html`` for ``form``, kept per process when it is unbound.

Django draws each field through its widget templates, about 0.3 ms a field; the pin page has two
forms (save, report) on every view. An unbound form with the same class, prefix, initial values
and choices draws the same HTML for everyone (the CSRF token sits outside it), so that HTML is
kept here, keyed by exactly those. A bound form (errors, what was typed) is always drawn afresh,
and so is a form whose choices would be read from a queryset while drawing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any, cast

from django import forms, template
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

_KEPT_AT_MOST = 512
_kept: dict[tuple, str] = {}
_lock = threading.Lock()


def _key(form: forms.BaseForm) -> tuple | None:
    """What an unbound form's HTML depends on, or None when it cannot be known cheaply."""
    fields = []
    for name, field in form.fields.items():
        choices: tuple = ()
        if isinstance(field, forms.ModelChoiceField):
            if not hasattr(field, "_choices"):
                return None  # its choices come from a queryset while drawing
            choices = tuple(field._choices)  # type: ignore[attr-defined]  # set with the choices
        elif isinstance(field, forms.ChoiceField):
            choices = tuple(cast(Iterable[Any], field.choices))  # normalized by its setter
        fields.append((name, repr(field.initial), repr(form.initial.get(name)), choices))
    return (type(form).__module__, type(form).__qualname__, form.prefix, form.auto_id, *fields)


def _draw(form: forms.BaseForm) -> str:
    return render_to_string("_form.html", {"form": form})


@register.simple_tag
def form_fields(form: forms.BaseForm) -> SafeString:
    if form.is_bound:
        # nosemgrep: mark-safe-non-literal - _draw renders a template with autoescape on
        return mark_safe(_draw(form))  # noqa: S308 - the template escaped it
    key = _key(form)
    if key is None:
        # nosemgrep: mark-safe-non-literal - as above
        return mark_safe(_draw(form))  # noqa: S308
    drawn = _kept.get(key)
    if drawn is None:
        drawn = _draw(form)
        with _lock:
            if len(_kept) >= _KEPT_AT_MOST:
                _kept.clear()
            _kept[key] = drawn
    # nosemgrep: mark-safe-non-literal - kept output of _draw, escaped by the template
    return mark_safe(drawn)  # noqa: S308
