"""Database constraints shared by several apps' models."""

from django.db import models
from django.db.models import Q


def http_url_check(field: str, name: str) -> models.CheckConstraint:
    """Refuse any link but an empty one or http(s), so no ``javascript:`` URL is ever stored.

    The form validates first with a readable message; this is the guarantee that holds for
    ``.update()``, raw imports and admin edits too.
    """
    return models.CheckConstraint(
        condition=(
            Q(**{field: ""})
            | Q(**{f"{field}__startswith": "http://"})
            | Q(**{f"{field}__startswith": "https://"})
        ),
        name=name,
        violation_error_message="Links must start with http:// or https://.",
    )
