"""Database routing for one writer (``default``) and up to 15 read replicas (``replica_N``).

The policy, in plain words:

* **Writes go to the writer**, always: saves, deletes, ``update()``, ``get_or_create()``,
  ``select_for_update()``, admin actions. Migrations run on the writer only.
* **Inside a transaction everything goes to the writer.** While ``transaction.atomic()`` is open on
  the writer, reads use it too, so a transaction sees its own rows and one snapshot.
* **Other reads go to a healthy replica**, chosen at random (weighted by
  ``DATABASE_REPLICA_WEIGHTS``, equal by default). A web request chooses once and keeps that
  replica for all its reads, so one page is drawn from one replica's snapshot; the next request
  may choose another. Objects from any alias may be related to each other: they hold the same data.
* **Read-your-writes.** A request with a non-safe method (POST, PUT, PATCH, DELETE) reads the
  writer throughout, so its checks ("is this name free?") see the latest data; so does any request
  for the rest of it once it has written. Its response then carries a pin cookie holding the
  writer's WAL position after the write. While the pin lasts (``REPLICA_PIN_SECONDS`` at most),
  that browser's reads go only to replicas known to have replayed that position, and to the
  writer while none has, so the page after the redirect never misses the change. Replicas catch
  up within milliseconds here, so the pin usually stops mattering at the next probe. Without a
  usable WAL position (the writer is not PostgreSQL, or cannot say), the pin keeps reads on the
  writer until it expires. The pin is per browser, not per account.
* **The pin lives in a context variable** set by ``ReadYourWritesMiddleware`` for each request and
  reset when the request ends, exception or not: it never leaks into another request, thread or
  task. A thread does not inherit it.
* **Celery tasks read the writer** (a task usually runs right after the write that queued it),
  unless declared read-only with ``@shared_task(replica_reads=True)``; a read-only task that writes
  reads the writer from then on. **Other code** (management commands, the shell, scripts, threads)
  reads replicas until it first writes, and the writer after that, for the rest of that thread.
* **Health is known before a connection is asked for**: a background prober per process
  (``pinsite.db.replica_health``) keeps the rotation. A replica that refuses connections, hangs,
  lags more than ``REPLICA_MAX_LAG`` seconds behind the writer, or is no longer in recovery
  (promoted in a failover) leaves the rotation within about one ``REPLICA_PROBE_INTERVAL``, and
  rejoins after two good probes. Until a process's first probe round has finished, it reads the
  writer.
* **A read that fails on a replica** with a connection error outside a transaction is retried
  once, on the writer, and the replica leaves the rotation at once (``pinsite.db.replica_backend``).
  The request succeeds. **With no replica in rotation, the writer serves every read** and the
  ``no_healthy_replica`` counter says so.
* Counters per process: ``/healthz/replicas`` (staff, JSON) and ``/metrics`` (Prometheus).
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connections
from django.http import HttpRequest, HttpResponse

from pinsite.db import replica_health

logger = logging.getLogger(__name__)

WRITER = "default"
PIN_COOKIE = "pinsite_rw"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


@dataclass(slots=True)
class RoutingScope:
    """How reads are routed in one request, task or thread. Mutable, but only by its own context."""

    kind: str  # "request", "task", "thread" or "code"
    writer_reason: str | None = None  # set: every read goes to the writer, counted under it
    wrote: bool = False
    pin_lsn: int | None = None  # the writer's WAL position the reader must have replayed
    pin_until: float = 0.0  # time.time() the pin ends; 0 when there is none
    replica: str | None = None  # the replica this scope keeps while it stays in rotation


_scope: ContextVar[RoutingScope | None] = ContextVar("pinsite_db_routing", default=None)


def current_scope() -> RoutingScope | None:
    return _scope.get()


@contextlib.contextmanager
def routing_scope(scope: RoutingScope) -> Iterator[RoutingScope]:
    """Route this block's reads by ``scope``; the previous scope is back afterwards, always."""
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


def replica_reads() -> contextlib.AbstractContextManager[RoutingScope]:
    """A fresh scope that reads replicas until it writes (read-only scripts and jobs)."""
    return routing_scope(RoutingScope(kind="code"))


def _counters() -> replica_health.Counters:
    return replica_health.health().counters


def _writer(reason: str) -> str:
    _counters().writer_read(reason)
    return WRITER


class PrimaryReplicaRouter:
    def db_for_read(self, model, **hints) -> str:
        if not settings.REPLICA_ALIASES:
            return WRITER
        if connections[WRITER].in_atomic_block:
            return _writer("atomic")
        health = replica_health.health()
        scope = _scope.get()
        if scope is None:
            alias = health.pick()
            if alias is None:
                return _writer("no_healthy_replica")
            health.counters.read(alias)
            return alias
        if scope.writer_reason is not None:
            return _writer(scope.writer_reason)
        if scope.wrote:
            return _writer("wrote")
        min_lsn = None
        if scope.pin_until:
            if time.time() >= scope.pin_until:
                scope.pin_until, scope.pin_lsn = 0.0, None
            elif scope.pin_lsn is None:
                return _writer("pinned")
            else:
                min_lsn = scope.pin_lsn
        alias = scope.replica
        if alias is None or not health.in_rotation(alias, min_lsn):
            alias = health.pick(min_lsn)
            if alias is None:
                reason = "pinned" if min_lsn is not None and health.any_in_rotation() else None
                return _writer(reason or "no_healthy_replica")
            scope.replica = alias
        health.counters.read(alias)
        return alias

    def db_for_write(self, model, **hints) -> str:
        scope = _scope.get()
        if scope is None:
            # Code outside a request or task (a command, the shell) reads its own writes from
            # here on: the scope is set in this thread's context and stays there.
            _scope.set(RoutingScope(kind="thread", wrote=True))
        elif not scope.wrote:
            scope.wrote = True
        return WRITER

    def allow_relation(self, obj1, obj2, **hints) -> bool | None:
        aliases = {WRITER, *settings.REPLICA_ALIASES}
        if obj1._state.db in aliases and obj2._state.db in aliases:
            return True
        return None

    def allow_migrate(self, db: str, app_label: str, model_name=None, **hints) -> bool:
        return db == WRITER


class ReadYourWritesMiddleware:
    """Gives each request its routing scope and pins a browser to fresh data after it writes.

    Place it before SessionMiddleware, so a session saved on the way out counts as a write.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not settings.REPLICA_ALIASES:
            return self.get_response(request)
        scope = RoutingScope(kind="request")
        if request.method not in SAFE_METHODS:
            scope.writer_reason = "unsafe_method"
        else:
            pin = read_pin(request.COOKIES.get(PIN_COOKIE, ""))
            if pin is not None:
                scope.pin_lsn, scope.pin_until = pin
        token = _scope.set(scope)
        try:
            response = self.get_response(request)
            if scope.wrote or scope.writer_reason is not None:
                self._pin(response, scope)
            return response
        finally:
            _scope.reset(token)

    def _pin(self, response: HttpResponse, scope: RoutingScope) -> None:
        seconds = float(settings.REPLICA_PIN_SECONDS)
        lsn = writer_insert_lsn()
        if lsn is not None and scope.pin_lsn is not None:
            lsn = max(lsn, scope.pin_lsn)
        response.set_cookie(
            PIN_COOKIE,
            format_pin(lsn, time.time() + seconds),
            max_age=math.ceil(seconds),
            httponly=True,
            samesite="Lax",
            secure=settings.SESSION_COOKIE_SECURE,
        )
        _counters().pin()


def writer_insert_lsn() -> int | None:
    """The writer's WAL insert position now (it covers every commit so far), or None."""
    connection = connections[WRITER]
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return None
    if replica_health.health().writer_source != replica_health.WAL:
        return None  # the prober found no WAL functions on this writer (Aurora)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_insert_lsn()::text")
            return replica_health.lsn_to_int(cursor.fetchone()[0])
    except DatabaseError as error:  # a writer in recovery, or not PostgreSQL at all
        logger.info("no WAL position for the read-your-writes pin: %s", error)
        return None


def format_pin(lsn: int | None, until: float) -> str:
    return f"{lsn or 0:x}:{until:.3f}"


def read_pin(raw: str) -> tuple[int | None, float] | None:
    """(WAL position or None, end time) of a live pin cookie; None for none, expired or garbage.

    A forged cookie can only send its own reads to the writer, which any POST does too; an end
    time further out than REPLICA_PIN_SECONDS is cut back to it.
    """
    if not raw:
        return None
    lsn_text, _, until_text = raw.partition(":")
    try:
        lsn = int(lsn_text, 16)
        until = float(until_text)
    except ValueError:
        return None
    now = time.time()
    if not math.isfinite(until) or until <= now or lsn < 0:
        return None
    return (lsn or None), min(until, now + float(settings.REPLICA_PIN_SECONDS))


# --- Celery ------------------------------------------------------------------------------------

_task_tokens = threading.local()


def _task_started(task=None, **_kwargs) -> None:
    read_only = bool(getattr(task, "replica_reads", False))
    scope = RoutingScope(kind="task", writer_reason=None if read_only else "task")
    stack = getattr(_task_tokens, "stack", None)
    if stack is None:
        stack = _task_tokens.stack = []
    stack.append(_scope.set(scope))


def _task_finished(**_kwargs) -> None:
    stack = getattr(_task_tokens, "stack", None)
    if not stack:
        return
    token = stack.pop()
    try:
        _scope.reset(token)
    except ValueError:  # set in another context (a pool that hops threads): start clean
        _scope.set(None)


def connect_task_signals() -> None:
    """Route each Celery task's reads by the policy above (called where the Celery app is made)."""
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(_task_started, weak=False, dispatch_uid="pinsite-db-routing-start")
    task_postrun.connect(_task_finished, weak=False, dispatch_uid="pinsite-db-routing-end")
