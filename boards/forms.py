from django import forms

from boards.models import Board
from pinsite.bidi import bidi_controls_guard


class BoardForm(forms.ModelForm):
    class Meta:
        model = Board
        fields = ["name", "description", "is_secret"]
        labels = {"is_secret": "Keep this board secret"}
        help_texts = {"is_secret": "Only you and the people you invite will see it and its pins."}
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        bidi_controls_guard(self, ["name", "description"])


class CollaboratorForm(forms.Form):
    username = forms.CharField(max_length=150, label="Invite by username")
