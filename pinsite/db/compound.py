"""A filter over several LIMITed subqueries, one body for both databases."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, models
from django.db.models import Q


def in_any_of(querysets: Sequence[models.QuerySet]) -> Q:
    """A filter for rows whose pk is in any of ``querysets`` (each a LIMITed ``values("pk")``).

    PostgreSQL: one UNION of the bounded scans ("in A OR in B" makes it test every row against
    each list). SQLite cannot put a LIMITed select in a compound statement: there, the OR.
    """
    first, *others = querysets
    if connection.vendor == "postgresql":
        return Q(pk__in=first.union(*others) if others else first)
    found = Q()
    for queryset in querysets:
        found |= Q(pk__in=queryset)
    return found
