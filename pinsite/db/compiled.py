"""Hot read queries compiled to SQL once per shape, then run with each request's values.

A grid page loads its cards by id through the visibility gate (``Pin.objects.visible_to``): two
``EXISTS`` subqueries, an annotation and two joins. Building that queryset and compiling it to
SQL on every page costs more Python than the database takes to answer it. Here a query is
built once with stand-in values, compiled, and kept as SQL text with the positions of its
values; later calls fill in the real values and run it on the database the router picks.

* **Stand-ins.** ``Shape.build`` receives one stand-in per named value: a distinctive negative
  integer, a distinctive string for a text value, or for a list of ids a one-element list
  holding such an integer (lists are passed as one array parameter, ``= ANY(%s)``, so the SQL
  text does not depend on their length). A compiled parameter equal to a stand-in is a slot (a
  value may fill several); every other parameter is a constant of the query. Compiling fails
  loudly if a stand-in does not come out as a parameter.
* **Same answers as the ORM.** The SQL is the ORM's own. ``rows`` returns a ``values_list``
  query's columns with the compiler's converters applied; ``objects`` builds models as
  ``QuerySet`` does (``select_related`` rows and annotations included).
  ``pinsite.tests.test_compiled`` compares both with the plain querysets for every kind of
  viewer.
* **Planned once.** The text never changes, so on PostgreSQL it is sent with server-side binding
  and prepared on each connection (``_planned_once_cursor``, ``DB_PREPARE_THRESHOLD``).
* **Either database.** A shape is compiled once per vendor; lists of ids are one parameter on
  both (``in_array``: an array on PostgreSQL, JSON through ``json_each`` on SQLite), so callers
  write each hot read once.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from django.db import connections, router
from django.db.models import Field, ForeignObject, Lookup, Model, QuerySet
from django.db.models.query import get_related_populators  # type: ignore[attr-defined]  # not in django-stubs

# Distinctive values no real row or id carries (ids are positive).
_STAND_IN_BASE = -7_340_032_000_000_000_000

M = TypeVar("M", bound=Model)


class InArray(Lookup):
    """``field__in_array=[...]``: the list as ONE parameter, so a query's SQL text is the same
    for any number of ids: ``field = ANY(%s)`` with an array on PostgreSQL, ``field IN (SELECT
    value FROM json_each(%s))`` with a JSON list on SQLite."""

    lookup_name = "in_array"
    prepare_rhs = False

    def get_db_prep_lookup(self, value, connection):
        return "%s", [list(value)]

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", [*lhs_params, *rhs_params]

    def as_sqlite(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        ids = [_json_list(param) for param in rhs_params]
        # lhs and rhs are the compiler's own SQL; the ids travel as a parameter.
        return f"{lhs} IN (SELECT value FROM json_each({rhs}))", [*lhs_params, *ids]  # noqa: S608


def _json_list(value: Any) -> Any:
    return json.dumps([int(item) for item in value]) if isinstance(value, list) else value


Field.register_lookup(InArray)
ForeignObject.register_lookup(InArray)


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]
    slots: tuple[tuple[int, str], ...]  # (parameter position, value name)
    converters: tuple[tuple[int, tuple[Callable, ...], Any], ...]
    # How ``django.db.models.query.ModelIterable`` turns a row into models (None for values).
    select: tuple | None
    klass_info: dict | None
    annotation_col_map: dict | None


class Shape:
    """One query shape: ``build(values)`` returns a queryset built from the named stand-ins in
    ``values``: ``rows`` runs a ``values_list`` one, ``objects`` a model one. ``lists`` names the
    values that are lists of ids, ``texts`` those that are strings (the rest are integers)."""

    def __init__(
        self,
        key: Hashable,
        build: Callable[[dict[str, Any]], QuerySet],
        *,
        values: Sequence[str],
        lists: Sequence[str] = (),
        texts: Sequence[str] = (),
    ) -> None:
        self.key = key
        self.build = build
        self.names = tuple(values)
        self.lists = frozenset(lists)
        self.texts = frozenset(texts)
        self._compiled: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    def _stand_ins(self) -> dict[str, Any]:
        stand_ins: dict[str, Any] = {}
        for number, name in enumerate(self.names):
            value = _STAND_IN_BASE - number
            if name in self.texts:
                stand_ins[name] = f"\N{NULL}pinsite-stand-in-{number}"
            else:
                stand_ins[name] = [value] if name in self.lists else value
        return stand_ins

    def _compile(self, alias: str) -> _Compiled:
        stand_ins = self._stand_ins()
        queryset = self.build(stand_ins)
        compiler = queryset.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        by_value = {
            (tuple(value) if isinstance(value, list) else value): name
            for name, value in stand_ins.items()
        }
        # A text field's lookup passes an integer stand-in as its text; SQLite gets a list as JSON.
        by_value.update({str(value): name for value, name in list(by_value.items())})
        by_value.update(
            {
                _json_list(list(value)): name
                for value, name in list(by_value.items())
                if isinstance(value, tuple)
            }
        )
        slots = []
        for position, param in enumerate(params):
            found = by_value.get(tuple(param) if isinstance(param, list) else param)
            if found is not None:
                slots.append((position, found))
        missing = set(self.names).difference(name for _, name in slots)
        if missing:  # not ValueError: callers read that as bad input
            raise RuntimeError(f"{self.key}: {sorted(missing)} not found in the compiled SQL")
        columns = [column for column, _, _ in compiler.select]
        converters = tuple(
            (position, tuple(functions), expression)
            for position, (functions, expression) in compiler.get_converters(columns).items()
        )
        model_rows = compiler.klass_info is not None
        return _Compiled(
            sql,
            tuple(params),
            tuple(slots),
            converters,
            select=tuple(compiler.select) if model_rows else None,
            klass_info=compiler.klass_info,
            annotation_col_map=compiler.annotation_col_map if model_rows else None,
        )

    def _for(self, alias: str) -> _Compiled:
        vendor = connections[alias].vendor
        compiled = self._compiled.get(vendor)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(vendor) or self._compile(alias)
                self._compiled[vendor] = compiled
        return compiled

    def rows(self, model: type[Model], **values: Any) -> tuple[str, list[tuple]]:
        """The database the router sends reads of ``model`` to, and the query's rows there for
        ``values``."""
        alias = router.db_for_read(model)
        connection = connections[alias]
        compiled = self._for(alias)
        params = list(compiled.params)
        for position, name in compiled.slots:
            value = values[name]
            if name in self.lists:
                value = (
                    list(value) if connection.vendor == "postgresql" else _json_list(list(value))
                )
            params[position] = value
        with _planned_once_cursor(connection) as cursor:
            # nosemgrep: sql-text-from-variable - the ORM's own SQL; values are parameters
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        if compiled.converters:
            converted = []
            for row in rows:
                row = list(row)
                for position, functions, expression in compiled.converters:
                    for function in functions:
                        row[position] = function(row[position], expression, connection)
                converted.append(tuple(row))
            rows = converted
        return alias, rows

    def objects(self, model: type[M], **values: Any) -> list[M]:
        """The query's rows as models, built as ``QuerySet.__iter__`` builds them: the model,
        its ``select_related`` ones and its annotations (the query's own ``model``)."""
        alias, rows = self.rows(model, **values)
        compiled = self._for(alias)
        klass_info, select = compiled.klass_info, compiled.select
        if klass_info is None or select is None:
            raise TypeError(f"{self.key}: objects() needs a model queryset, not values")
        model_class = klass_info["model"]
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        init_list = [column[0].target.attname for column in select[start:end]]
        populators = get_related_populators(klass_info, list(select), alias)
        annotations = list((compiled.annotation_col_map or {}).items())
        found: list[M] = []
        for row in rows:
            instance = model_class.from_db(alias, init_list, row[start:end])
            for populator in populators:
                populator.populate(row, instance)
            for name, position in annotations:
                setattr(instance, name, row[position])
            found.append(instance)
        return found


def _planned_once_cursor(connection):
    """A cursor on ``connection`` whose statements PostgreSQL plans once per connection.

    The connection's own cursors bind values on the client (Django's default), so PostgreSQL
    plans every statement afresh, and planning the visibility gate costs more than running it.
    A compiled query's text never changes, so here it is sent with its values apart
    (server-side binding) and psycopg prepares it after ``DB_PREPARE_THRESHOLD`` runs on a
    connection. The cursor is wrapped as the connection wraps its own: execute wrappers, the
    query log, and on a replica the retry on the writer (``pinsite.db.replica_backend``).
    """
    wrapped = connection.cursor()
    if connection.vendor != "postgresql" or wrapped.cursor is None:
        return wrapped  # a replica that could not connect: its wrapper retries on the writer
    if connection.queries_logged:
        # DEBUG or a test capturing queries: the log wants each statement's text with its
        # values, which a prepared statement's cursor does not keep. Speed matters less here.
        return wrapped
    from django.db.backends.postgresql import base
    from psycopg.pq import Format

    # django-stubs leave out the backend module's psycopg 3 names used here.
    postgresql = cast(Any, base)

    server_side = postgresql.ServerBindingCursor(connection.connection)
    # As DatabaseWrapper.create_cursor: the session's time zone for timestamps.
    timestamps = connection.connection.adapters.get_loader(postgresql.TIMESTAMPTZ_OID, Format.TEXT)
    if connection.timezone != timestamps.timezone:
        postgresql.register_tzloader(connection.timezone, server_side)
    wrapped.close()
    planned = connection._prepare_cursor(server_side)
    planned.cursor_name = None
    return planned


_shapes: dict[Hashable, Shape] = {}


def shape(key: Hashable, build: Callable[[dict[str, Any]], QuerySet], **options: Any) -> Shape:
    """The ``Shape`` registered as ``key``, made from ``build`` and ``options`` on first use."""
    found = _shapes.get(key)
    if found is None:
        found = _shapes.setdefault(key, Shape(key, build, **options))
    return found


def stand_in_user(pk: Any):
    """A user with only an id: what ``visible_to`` gates need of a viewer."""
    from django.contrib.auth import get_user_model

    return get_user_model()(pk=pk)
