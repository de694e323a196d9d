"""Search pieces shared by pins and boards, one body for both databases.

PostgreSQL matches and ranks on the stored, GIN-indexed ``search_document`` columns (English
stemming). SQLite, the embedded default, keeps those columns empty and looks for each word in
the row's own text fields instead (case-insensitive ``LIKE``), ranking by words in the title.
Selectors call these and never ask which database they are on.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from django.db import connection, models
from django.db.models import Case, F, FloatField, Q, Value, When
from django.db.models.functions import Cast

SEARCH_CONFIG = "english"
MAX_SEARCH_WORDS = 8
WORD = re.compile(r"\w+", re.UNICODE)


def search_words(query: str) -> list[str]:
    """The words a search matches on: lower-cased, at most MAX_SEARCH_WORDS."""
    return [word.lower() for word in WORD.findall(query)][:MAX_SEARCH_WORDS]


class OnPostgreSQL(models.Func):
    """``expression`` on PostgreSQL, an empty text elsewhere: for a stored column that only
    PostgreSQL fills (SQLite keeps it empty and searches the text fields themselves)."""

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


def _full_text() -> bool:
    return connection.vendor == "postgresql"


def all_words_query(words: str | Value):
    """PostgreSQL's query for "every one of ``words``" (space-separated), English-stemmed."""
    from django.contrib.postgres.search import SearchQuery

    return SearchQuery(words, search_type="plain", config=SEARCH_CONFIG)


class _EveryWordIn(models.Func):
    """SQLite: true when each space-separated word of the first argument is in one of the other
    arguments (text columns). The words stay ONE parameter, so the SQL is the same whatever
    their number (search words are ``\\w+``: no quote or backslash can break the JSON list)."""

    output_field = models.BooleanField()

    def as_sql(
        self, compiler, connection, function=None, template=None, arg_joiner=None, **extra_context
    ):
        words, *fields = (compiler.compile(argument) for argument in self.get_source_expressions())
        params = [*words[1]]
        found = []
        for sql, field_params in fields:
            found.append(f"{sql} LIKE '%%' || word.value || '%%'")
            params.extend(field_params)
        words_list = f"""json_each('["' || replace({words[0]}, ' ', '","') || '"]')"""
        # The SQL is assembled from the compiler's own fragments; values are parameters.
        sql = f"NOT EXISTS (SELECT 1 FROM {words_list} AS word WHERE NOT ({' OR '.join(found)}))"  # noqa: S608
        return sql, params


def matching_all(words: str | Value, *, fields: Sequence[str]):
    """A filter for rows holding every word of ``words`` (space-separated; a plain text or a
    compiled query's stand-in): the search document on PostgreSQL, ``fields`` on SQLite."""
    value = words if isinstance(words, Value) else Value(words)
    if _full_text():
        return Q(search_document=all_words_query(value))
    return _EveryWordIn(value, *(F(field) for field in fields))


def matching_any(words: list[str], *, fields: Sequence[str]) -> Q:
    """A filter for rows holding at least one of ``words``."""
    if _full_text():
        from django.contrib.postgres.search import SearchQuery

        text = SearchQuery(" | ".join(words), search_type="raw", config=SEARCH_CONFIG)
        return Q(search_document=text)
    found = Q()
    for word in words:
        for field in fields:
            found |= Q(**{f"{field}__icontains": word})
    return found


def search_rank(words: list[str], *, title: str = "title"):
    """How well a row matches ``words``: PostgreSQL's ts_rank over the stored document (as double
    precision: a real would come back rounded to its shortest text, and the next page's "rank
    below this" would start over); on SQLite, how many of the words are in ``title``."""
    if _full_text():
        from django.contrib.postgres.search import SearchRank

        return Cast(
            SearchRank(F("search_document"), all_words_query(" ".join(words))), FloatField()
        )
    return sum(
        (
            Case(When(**{f"{title}__icontains": word}, then=Value(1)), default=Value(0))
            for word in words
        ),
        start=Value(0),
    )
