"""Full-text search pieces shared by pins and boards (PostgreSQL; SQLite searches with LIKE)."""

from __future__ import annotations

from django.db import models

SEARCH_CONFIG = "english"


class OnPostgreSQL(models.Func):
    """``expression`` on PostgreSQL, an empty text elsewhere: for a stored column that only
    PostgreSQL fills (SQLite keeps it empty; search there is the fallback in ``pins.selectors``)."""

    template = "%(expressions)s"
    arity = 1

    def as_sql(
        self, compiler, connection, function=None, template=None, arg_joiner=None, **extra_context
    ):
        if connection.vendor != "postgresql":
            return "''", []
        return super().as_sql(
            compiler,
            connection,
            function=function,
            template=template,
            arg_joiner=arg_joiner,
            **extra_context,
        )


def all_words_query(words: list[str]):
    """PostgreSQL's query for "every one of ``words``", English-stemmed: what pin and board search
    match against the stored ``search_document`` columns."""
    from django.contrib.postgres.search import SearchQuery

    return SearchQuery(" ".join(words), search_type="plain", config=SEARCH_CONFIG)
