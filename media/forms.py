"""Media's forms."""

from __future__ import annotations

from django import forms


class PinUploadForm(forms.Form):
    """One file from the upload page. The bytes are checked by the media service, not here."""

    file = forms.FileField(
        error_messages={"required": "Choose an image to upload.", "empty": "This file is empty."}
    )
