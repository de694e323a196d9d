from django import forms

from boards.models import Board


class BoardForm(forms.ModelForm):
    class Meta:
        model = Board
        fields = ["name", "description", "is_secret"]
        labels = {"is_secret": "Keep this board secret"}
        help_texts = {"is_secret": "Only you and the people you invite will see it and its pins."}
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}


class CollaboratorForm(forms.Form):
    username = forms.CharField(max_length=150, label="Invite by username")
