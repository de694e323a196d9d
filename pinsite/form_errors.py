"""Putting a service's ValidationError onto the form the person is looking at."""

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError


def form_add_service_errors(form: forms.BaseForm, error: ValidationError) -> None:
    """Attach errors to the fields they name, others to the form, so what was typed stays."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, errors in error.error_dict.items():
        target = field if field in form.fields else None
        if field == NON_FIELD_ERRORS:
            target = None
        form.add_error(target, errors)
