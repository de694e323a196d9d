"""The tiering policy form staff edit."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from pinsite.form_errors import form_add_service_errors
from tiering import services
from tiering.models import TieringPolicy


class TieringPolicyForm(forms.ModelForm):
    """The tiering policy staff edit (dashboard and admin); the service's check is the rule."""

    class Meta:
        model = TieringPolicy
        fields = services.TIERING_POLICY_FIELDS

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # ModelForm.clean returns cleaned_data
        # Only when every field parsed (a field's own error is enough otherwise).
        if all(name in cleaned for name in services.TIERING_POLICY_FIELDS):
            try:
                services.tiering_policy_check(values=cleaned)
            except ValidationError as error:
                form_add_service_errors(self, error)
        return cleaned
