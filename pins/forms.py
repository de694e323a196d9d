from __future__ import annotations

from typing import Any, cast

from django import forms

from boards.models import Board
from boards.selectors import board_list_pinnable, board_pinnable
from pins.models import Pin, PinReport
from pinsite.bidi import bidi_controls_guard
from pinsite.ids import IdField


class PinDetailsForm(forms.Form):
    """What a person says about one uploaded image before it is published."""

    asset = IdField(widget=forms.HiddenInput)
    board = IdField(error_messages={"required": "Choose a board for this pin."})
    title = forms.CharField(max_length=Pin._meta.get_field("title").max_length, required=False)
    description = forms.CharField(
        max_length=Pin._meta.get_field("description").max_length,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    alt_text = forms.CharField(
        max_length=Pin._meta.get_field("alt_text").max_length,
        required=False,
        label="Alt text",
        help_text="Describe the image for people who use screen readers.",
    )
    source_url = forms.URLField(
        max_length=2048,
        required=False,
        label="Source link",
        assume_scheme="https",
        error_messages={"invalid": "Enter a web address starting with http:// or https://."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        bidi_controls_guard(self, ["title", "description", "alt_text"])


class PinSaveForm(forms.Form):
    """Save to one of my boards, or name a new board to create in place."""

    board: forms.ModelChoiceField[Board] = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="Choose a board"
    )
    new_board_name = forms.CharField(max_length=100, required=False, label="Or a new board")
    new_board_secret = forms.BooleanField(required=False, label="Secret")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        bidi_controls_guard(self, ["new_board_name"])
        field = cast(forms.ModelChoiceField, self.fields["board"])
        if self.is_bound:  # what a submitted choice is checked against
            field.queryset = board_pinnable(user=user)
        # The choices drawn come from one compiled query (building the queryset's UNION cost
        # more than running it, on every pin page).
        field.choices = [
            ("", field.empty_label),
            *(
                (board.pk, field.label_from_instance(board))
                for board in board_list_pinnable(user=user)
            ),
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean returns cleaned_data
        if not cleaned.get("board") and not cleaned.get("new_board_name", "").strip():
            raise forms.ValidationError(
                "Choose one of your boards or give a name for a new one.", code="no_board"
            )
        return cleaned


class PinReportForm(forms.Form):
    reason = forms.ChoiceField(choices=PinReport.Reason.choices)
    detail = forms.CharField(
        max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Details"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        bidi_controls_guard(self, ["detail"])
