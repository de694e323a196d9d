"""PostgreSQL for a read replica: a read that meets a dead reader is retried once on the writer.

Why a backend and not only an ``execute_wrapper``: most reader failures surface while Django opens
the connection (``connection.cursor()`` -> ``ensure_connection()``, for instance after
``CONN_HEALTH_CHECKS`` found the kept connection dead), before any execute wrapper runs, and a
wrapper cannot hand the caller a cursor on another server. Here the replica's cursor wrapper owns
the retry, whichever of the two steps failed:

* only outside a transaction on the replica connection,
* only for statements that start with SELECT (a write never moves to another server),
* only for connection-class errors (see ``is_connection_error``): a refused or dropped connection,
  a server shutting down or starting up, too many connections, a missing database, a recovery
  conflict. A statement timeout or a cancelled query is the query's own problem and is raised.

The retry runs on the writer through the writer's own cursor, so it passes the writer's execute
wrappers and query log; the rows are then read from that cursor. The replica leaves the rotation at
once (``replica_health.report_read_failure``) and rejoins when its probes say so. A named
(server-side) cursor that fails while being iterated is not retried: rows were already handed out.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.postgresql import base as postgresql
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.db.utils import InterfaceError, OperationalError

from pinsite.db import replica_health

# SQLSTATEs that mean "this server cannot serve you now", not "this query is wrong":
# admin/crash shutdown, cannot connect now (starting up), too many connections, database missing
# (a replica rebuilt before it has it), and 40001, which a standby raises for a recovery conflict.
CONNECTION_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300", "3D000", "40001"})


def is_connection_error(error: BaseException) -> bool:
    """True for errors that say the server is unusable rather than the statement wrong."""
    if isinstance(error, InterfaceError):
        return True
    if not isinstance(error, OperationalError):
        return False
    sqlstate = getattr(error.__cause__, "sqlstate", None)
    if sqlstate is None:
        return True  # raised by the client library: refused, timed out, connection lost
    return sqlstate.startswith("08") or sqlstate in CONNECTION_SQLSTATES


def _is_select(sql: object) -> bool:
    return isinstance(sql, str) and sql.lstrip()[:6].upper() == "SELECT"


if TYPE_CHECKING:
    _CursorBase = CursorWrapper  # what the mixin is mixed into
else:
    _CursorBase = object


class ReadRetryCursorMixin(_CursorBase):
    """Retries a failed read once on the writer; after that the cursor *is* the writer's."""

    # Set instead of a live cursor when connecting failed; raised or retried at execute().
    connect_error: BaseException | None = None
    cursor_name: str | None = None
    moved = False

    def _may_move(self, sql: object, error: BaseException) -> bool:
        return (
            not self.moved
            and not self.db.in_atomic_block
            and _is_select(sql)
            and is_connection_error(error)
        )

    def execute(self, sql, params=None):
        if self.connect_error is not None:
            error = self.connect_error
            if not self._may_move(sql, error):
                raise error
        else:
            try:
                return super().execute(sql, params)
            except (OperationalError, InterfaceError) as failure:
                if not self._may_move(sql, failure):
                    raise
                error = failure
        return self._retry_on_writer(sql, params, error)

    def _retry_on_writer(self, sql, params, error: BaseException):
        replica = self.db
        replica_health.health().report_read_failure(replica.alias, error)
        replica_health.health().counters.writer_read("retry")
        writer = connections[DEFAULT_DB_ALIAS]
        fallback = writer.chunked_cursor() if self.cursor_name else writer.cursor()
        with contextlib.suppress(Exception):
            if self.cursor is not None:
                self.cursor.close()
            # Drop the broken connection now: the next read on this alias connects afresh
            # instead of failing again on it (Django only drops it between requests, and its
            # test client not even then).
            replica.close()
        # From here on every fetch and execute on this wrapper goes to the writer's cursor.
        self.cursor, self.db = fallback.cursor, fallback.db
        self.connect_error, self.moved = None, True
        return fallback.execute(sql, params)

    def executemany(self, sql, param_list):
        if self.connect_error is not None:
            raise self.connect_error
        return super().executemany(sql, param_list)

    def callproc(self, procname, params=None, kparams=None):
        if self.connect_error is not None:
            raise self.connect_error
        return super().callproc(procname, params, kparams)

    def close(self):
        if self.cursor is not None:
            return self.cursor.close()
        return None


class ReadRetryCursor(ReadRetryCursorMixin, CursorWrapper):
    pass


class ReadRetryDebugCursor(ReadRetryCursorMixin, CursorDebugWrapper):
    pass


class DatabaseWrapper(postgresql.DatabaseWrapper):
    def _cursor(self, name=None):
        try:
            wrapped = super()._cursor(name)  # type: ignore[misc]  # not in django-stubs
        except (OperationalError, InterfaceError) as error:
            if self.in_atomic_block or not is_connection_error(error):
                raise
            # Decide at execute(), where the statement is known: a read moves, anything else
            # raises this very error.
            wrapped = self._prepare_cursor(None)  # type: ignore[attr-defined]  # not in django-stubs
            wrapped.connect_error = error
        wrapped.cursor_name = name
        return wrapped

    def make_cursor(self, cursor):
        return ReadRetryCursor(cursor, self)

    def make_debug_cursor(self, cursor):
        return ReadRetryDebugCursor(cursor, self)
