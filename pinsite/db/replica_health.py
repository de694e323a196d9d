"""Which read replicas may take reads right now, known before a connection is asked for.

A daemon thread per process (the *prober*, started on the first read that could go to a replica,
and again after a fork) probes the writer and every ``replica_N`` alias each
``REPLICA_PROBE_INTERVAL`` seconds. Each probe opens its own short psycopg connection (never one of
Django's, and never from the request path) with a short connect and statement timeout, because a
replica whose postmaster hangs still serves the connections it already has: only a new connection
shows the hang that a new Django connection would meet.

A replica is taken out of rotation (*ejected*) when its probe is refused or errors, gives no answer
within the probe budget (``probe_budget()``), finds it no longer in recovery (it was promoted: a
different role after a failover), or when it lags more than ``REPLICA_MAX_LAG`` seconds. Lag comes
from what the writer has committed: each round samples the writer's flushed WAL position
(``pg_current_wal_flush_lsn()``) and the newest transaction it has finished (the ``xmax`` of its
snapshot), and a replica is as far behind as the oldest sample it has neither replayed to
(``pg_last_wal_replay_lsn()``) nor seen every transaction of (its own snapshot's ``xmax``) is old.
Uncommitted WAL is not lag: a write transaction held open (a long task's row lock) has WAL that
no replica can replay before it commits, part of it flushed up to a page boundary in the middle of
a record, so positions alone made every replica look behind while any write transaction stayed
open longer than the lag limit. Lag is measured to within one probe interval, is zero for an idle
writer (nothing is missing), and never uses ``pg_stat_replication.replay_lag``, which misreports. A replica also leaves rotation at once
when a read on it fails with a connection error in this process (``report_read_failure``). It
rejoins after ``REJOIN_AFTER`` good probes in a row.

Counters (reads per alias, reasons reads went to the writer, retries, pins, ejections) and gauges
(lag, health) are per process: a gunicorn worker reports its own. ``report()`` gives them as JSON
for staff and ``prometheus_text()`` in Prometheus' text format for a scrape.
"""

from __future__ import annotations

import logging
import math
import os
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connections

logger = logging.getLogger(__name__)

WRITER = "default"
# Good probes in a row before an ejected replica takes reads again: one lucky probe of a
# flapping replica must not bring it back.
REJOIN_AFTER = 2
# Writer WAL samples kept to date a replica's lag (10 minutes at the default 1 s interval).
HISTORY_SAMPLES = 600
# psycopg refuses connect timeouts under 2 s; the probe budget below is what bounds a round.
PSYCOPG_MIN_CONNECT_TIMEOUT = 2
ROLE_SQL = "SELECT pg_is_in_recovery()"
# What replicas can have: streaming sends WAL once it is flushed (every commit is), and the
# snapshot's xmax is one past the newest transaction finished (on a replica: replayed).
WRITER_WAL_SQL = (
    "SELECT pg_current_wal_flush_lsn()::text, txid_snapshot_xmax(txid_current_snapshot())"
)
REPLICA_WAL_SQL = (
    "SELECT pg_last_wal_replay_lsn()::text, pg_is_wal_replay_paused(),"
    " txid_snapshot_xmax(txid_current_snapshot())"
)
# Aurora PostgreSQL readers share the writer's storage and do not offer the WAL functions; the
# lag it reports for the reader itself is used instead (not tried here: there is no Aurora).
AURORA_LAG_SQL = (
    "SELECT replica_lag_in_msec FROM aurora_replica_status() "
    "WHERE server_id = aurora_db_instance_identifier()"
)
# How a server's position or lag is read: WAL functions, Aurora's status function, or nothing.
WAL, AURORA, NO_LAG = "wal", "aurora_replica_status", "none"


def lsn_to_int(text: str | None) -> int | None:
    """'16/B374D848' -> a byte position; None stays None."""
    if not text:
        return None
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


def int_to_lsn(value: int | None) -> str | None:
    return None if value is None else f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


def probe_budget(interval: float) -> float:
    """Seconds a probe may take before its replica counts as hung: the interval, within 0.5-2 s."""
    return min(2.0, max(0.5, interval))


@dataclass(frozen=True)
class ProbeResult:
    alias: str
    started: float
    finished: float
    in_recovery: bool | None = None
    lsn: int | None = None  # the writer's flushed position, or the replica's replay position
    replay_paused: bool | None = None
    reported_lag: float | None = None  # seconds, where the server reports its own lag (Aurora)
    source: str = WAL
    error: str = ""
    xmax: int | None = None  # one past the newest transaction finished (replayed, on a replica)


@dataclass
class ReplicaState:
    alias: str
    healthy: bool = False
    known: bool = False  # False until the first probe result
    reason: str = "not probed yet"
    replay_lsn: int | None = None
    replay_paused: bool | None = None
    lag_seconds: float | None = None
    lag_bytes: int | None = None
    lag_source: str = WAL
    probed_at: float | None = None  # monotonic
    probe_ms: float | None = None
    good_in_a_row: int = 0
    failed_at: float = 0.0  # monotonic time of the last request-path failure


@dataclass(frozen=True)
class Rotation:
    """What the router reads on every query: replaced whole, never changed in place."""

    at: float  # monotonic time of the round that made it
    aliases: tuple[str, ...] = ()
    cum_weights: tuple[float, ...] = ()
    replay_lsn: dict[str, int | None] = field(default_factory=dict)

    def lsn_ok(self, alias: str, min_lsn: int | None) -> bool:
        if min_lsn is None:
            return True
        replayed = self.replay_lsn.get(alias)
        return replayed is not None and replayed >= min_lsn


class Counters:
    """Per-process counters; increments take a lock so concurrent threads never lose one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reads: dict[str, int] = {}
        self.writer_reasons: dict[str, int] = {}
        self.retries: dict[str, int] = {}
        self.ejections: dict[str, int] = {}
        self.pins = 0
        self.probe_rounds = 0

    def read(self, alias: str) -> None:
        with self._lock:
            self.reads[alias] = self.reads.get(alias, 0) + 1

    def writer_read(self, reason: str) -> None:
        with self._lock:
            self.reads[WRITER] = self.reads.get(WRITER, 0) + 1
            self.writer_reasons[reason] = self.writer_reasons.get(reason, 0) + 1

    def retry(self, alias: str) -> None:
        with self._lock:
            self.retries[alias] = self.retries.get(alias, 0) + 1

    def ejection(self, alias: str) -> None:
        with self._lock:
            self.ejections[alias] = self.ejections.get(alias, 0) + 1

    def pin(self) -> None:
        with self._lock:
            self.pins += 1

    def probe_round(self) -> None:
        with self._lock:
            self.probe_rounds += 1


class ReplicaHealth:
    """The rotation of one process: replica states, the writer's WAL history, the prober thread."""

    def __init__(self, aliases: list[str]) -> None:
        self.aliases = list(aliases)
        self.counters = Counters()
        self.states = {alias: ReplicaState(alias) for alias in self.aliases}
        self.rotation = Rotation(at=-math.inf)
        self.writer_lsn: int | None = None
        self.writer_error = ""
        self.writer_in_recovery: bool | None = None
        self.writer_source = WAL  # NO_LAG once the writer turned out to have no WAL functions
        # (when, flushed position, snapshot xmax) of the writer, one per round.
        self._history: deque[tuple[float, int, int | None]] = deque(maxlen=HISTORY_SAMPLES)
        self._lock = threading.Lock()  # guards states and rotation updates
        self._in_flight: set[str] = set()
        self._in_flight_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    # --- used on every read -------------------------------------------------------------------

    def in_rotation(self, alias: str, min_lsn: int | None = None) -> bool:
        rotation = self.rotation
        return alias in rotation.replay_lsn and rotation.lsn_ok(alias, min_lsn)

    def pick(self, min_lsn: int | None = None) -> str | None:
        """A replica in rotation (weighted random) that has replayed ``min_lsn``; None if none.

        Starts the prober when it is not running; until its first round, no replica is known to
        be healthy and None is returned (the writer serves).
        """
        rotation = self.rotation
        if time.monotonic() - rotation.at > self.stale_after():
            self.ensure_prober()
            return None
        if min_lsn is None:
            aliases, cum_weights = rotation.aliases, rotation.cum_weights
        else:
            ok = [
                (alias, weight)
                for alias, weight in zip(rotation.aliases, _weights(rotation), strict=True)
                if rotation.lsn_ok(alias, min_lsn)
            ]
            aliases = tuple(alias for alias, _ in ok)
            cum_weights = tuple(_cumulate([weight for _, weight in ok]))
        if not aliases:
            return None
        if len(aliases) == 1:
            return aliases[0]
        return random.choices(aliases, cum_weights=cum_weights)[0]  # noqa: S311 - load spreading

    def any_in_rotation(self) -> bool:
        return bool(self.rotation.aliases)

    def stale_after(self) -> float:
        """A rotation older than this is not trusted: the prober is presumed dead and restarted."""
        interval = float(settings.REPLICA_PROBE_INTERVAL)
        return max(5.0, 3 * interval + probe_budget(interval))

    # --- the request path reporting a failure ------------------------------------------------

    def report_read_failure(self, alias: str, error: BaseException) -> None:
        """A read on ``alias`` failed with a connection error: out of rotation until probes agree."""
        self.counters.retry(alias)
        with self._lock:
            state = self.states.get(alias)
            if state is None:
                return
            state.failed_at = time.monotonic()
            state.good_in_a_row = 0
            if state.healthy:
                state.healthy = False
                state.reason = f"a read failed: {_first_line(error)}"
                self.counters.ejection(alias)
                logger.warning("replica %s ejected: %s", alias, state.reason)
            self._publish()

    # --- the prober ---------------------------------------------------------------------------

    def ensure_prober(self) -> None:
        if self._thread is not None and self._thread.is_alive() and self._pid == os.getpid():
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="replica-prober", daemon=True)
            self._thread.start()

    def stop_prober(self, timeout: float = 5.0) -> None:
        """Stop the prober and wait for its round (tests; a process that is about to drop a DB)."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        deadline = time.monotonic() + timeout
        while self._in_flight and time.monotonic() < deadline:
            time.sleep(0.01)

    def _run(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                self.probe_round()
            except Exception:  # the prober must outlive any surprise; the next round retries
                logger.exception("replica probe round failed")
            interval = float(settings.REPLICA_PROBE_INTERVAL)
            self._stop.wait(max(0.0, interval - (time.monotonic() - began)))

    def probe_round(self) -> None:
        """Probe the writer and every replica in parallel, then publish a new rotation."""
        interval = float(settings.REPLICA_PROBE_INTERVAL)
        budget = probe_budget(interval)
        results: dict[str, ProbeResult] = {}
        done = threading.Condition()
        started: list[str] = []
        skipped: list[str] = []
        for alias in [WRITER, *self.aliases]:
            with self._in_flight_lock:
                if alias in self._in_flight:
                    skipped.append(alias)  # its last probe still hangs
                    continue
                self._in_flight.add(alias)
            started.append(alias)
            threading.Thread(
                target=self._probe_into,
                args=(alias, budget, results, done),
                name=f"replica-probe-{alias}",
                daemon=True,
            ).start()
        deadline = time.monotonic() + budget
        with done:
            while len(results) < len(started):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                done.wait(remaining)
            answered = dict(results)
        self._apply(answered, started, skipped, budget)
        self.counters.probe_round()

    def _probe_into(
        self, alias: str, budget: float, results: dict, done: threading.Condition
    ) -> None:
        try:
            source = self.writer_source if alias == WRITER else self.states[alias].lag_source
            result = probe(alias, budget, source)
        finally:
            with self._in_flight_lock:
                self._in_flight.discard(alias)
        with done:
            results[alias] = result
            done.notify_all()

    def _apply(
        self, results: dict[str, ProbeResult], started: list[str], skipped: list[str], budget: float
    ) -> None:
        writer = results.get(WRITER)
        if writer is not None and not writer.error:
            self.writer_source = writer.source
        if writer is not None and not writer.error and writer.lsn is not None:
            self._history.append((writer.finished, writer.lsn, writer.xmax))
            self.writer_lsn = writer.lsn
        self.writer_error = (
            ""
            if writer is not None and not writer.error
            else (writer.error if writer is not None else f"no answer within {budget:g} s")
        )
        self.writer_in_recovery = writer.in_recovery if writer is not None else None
        writer_known = writer is not None and not writer.error and writer.lsn is not None
        max_lag = float(settings.REPLICA_MAX_LAG)
        with self._lock:
            for alias in self.aliases:
                state = self.states[alias]
                result = results.get(alias)
                if result is None:
                    problem = (
                        f"no answer within {budget:g} s"
                        if alias in started
                        else "hung: the previous probe has not returned"
                    )
                    self._mark(state, problem)
                    continue
                state.probed_at = result.finished
                state.probe_ms = round((result.finished - result.started) * 1000, 2)
                if result.error:
                    self._mark(state, f"unreachable: {result.error}")
                    continue
                state.replay_paused = result.replay_paused
                state.lag_source = result.source
                if not result.in_recovery:
                    state.replay_lsn = None
                    self._mark(state, "not in recovery: promoted, so no longer a replica")
                    continue
                state.replay_lsn = result.lsn
                if result.reported_lag is not None:
                    state.lag_seconds, state.lag_bytes = round(result.reported_lag, 3), None
                elif writer_known and result.lsn is not None:
                    state.lag_bytes = max(0, (self.writer_lsn or 0) - result.lsn)
                    state.lag_seconds = round(
                        self._lag_seconds(result.lsn, result.xmax, result.finished), 3
                    )
                if state.lag_seconds is not None and state.lag_seconds > max_lag:
                    self._mark(state, f"lagging {state.lag_seconds:g} s (max {max_lag:g} s)")
                    continue
                if state.failed_at > result.started:
                    # A read failed while this probe ran: the probe's good news is older.
                    self._mark(state, state.reason)
                    continue
                state.good_in_a_row += 1
                if not state.healthy and (not state.known or state.good_in_a_row >= REJOIN_AFTER):
                    if state.known:
                        logger.info("replica %s rejoined the rotation", alias)
                    state.healthy = True
                    state.reason = "ok"
                state.known = True
            self._publish()

    def _mark(self, state: ReplicaState, reason: str) -> None:
        """Out of rotation (caller holds the lock); an ejection is counted on the way out."""
        state.good_in_a_row = 0
        if state.healthy:
            self.counters.ejection(state.alias)
            logger.warning("replica %s ejected: %s", state.alias, reason)
        elif state.reason != reason and state.known:
            logger.info("replica %s still out of rotation: %s", state.alias, reason)
        state.healthy = False
        state.known = True
        state.reason = reason

    def _lag_seconds(self, replay_lsn: int, replay_xmax: int | None, now: float) -> float:
        """Age of the oldest writer sample the replica lacks (0 if none). A sample is had when
        the replica replayed past its position, or has seen every transaction it had finished
        (the position may sit inside a record of a transaction still open, which no replica can
        replay until more WAL is flushed)."""
        for sampled_at, lsn, xmax in self._history:
            finished_seen = xmax is not None and replay_xmax is not None and replay_xmax >= xmax
            if lsn > replay_lsn and not finished_seen:
                return max(0.0, now - sampled_at)
        return 0.0

    def _publish(self) -> None:
        """Build the rotation the router reads (caller holds the lock)."""
        weights = settings.REPLICA_WEIGHTS
        members = [
            (alias, float(weights.get(alias, 1.0)))
            for alias in self.aliases
            if self.states[alias].healthy and float(weights.get(alias, 1.0)) > 0
        ]
        self.rotation = Rotation(
            at=time.monotonic(),
            aliases=tuple(alias for alias, _ in members),
            cum_weights=tuple(_cumulate([weight for _, weight in members])),
            replay_lsn={alias: self.states[alias].replay_lsn for alias, _ in members},
        )

    # --- reading it out -----------------------------------------------------------------------

    def report(self) -> dict:
        """Everything an operator needs, as JSON-ready data (this process only)."""
        now = time.monotonic()
        counters = self.counters
        rotation = self.rotation
        replicas = {}
        for alias in self.aliases:
            state = self.states[alias]
            replicas[alias] = {
                "in_rotation": alias in rotation.aliases,
                "healthy": state.healthy,
                "reason": state.reason,
                "weight": float(settings.REPLICA_WEIGHTS.get(alias, 1.0)),
                "lag_seconds": state.lag_seconds,
                "lag_bytes": state.lag_bytes,
                "lag_source": state.lag_source,
                "replay_lsn": int_to_lsn(state.replay_lsn),
                "replay_paused": state.replay_paused,
                "last_probe_age_seconds": (
                    None if state.probed_at is None else round(now - state.probed_at, 3)
                ),
                "probe_ms": state.probe_ms,
                "reads": counters.reads.get(alias, 0),
                "retries": counters.retries.get(alias, 0),
                "ejections": counters.ejections.get(alias, 0),
            }
        return {
            "pid": os.getpid(),
            "scope": "this process only; each web worker keeps its own counters",
            "prober_running": self._thread is not None and self._thread.is_alive(),
            "rotation_age_seconds": None
            if rotation.at == -math.inf
            else round(now - rotation.at, 3),
            "probe_interval_seconds": float(settings.REPLICA_PROBE_INTERVAL),
            "max_lag_seconds": float(settings.REPLICA_MAX_LAG),
            "pin_seconds": float(settings.REPLICA_PIN_SECONDS),
            "probe_rounds": counters.probe_rounds,
            "pins": counters.pins,
            "writer": {
                "reads": counters.reads.get(WRITER, 0),
                "reads_by_reason": dict(sorted(counters.writer_reasons.items())),
                "flush_lsn": int_to_lsn(self.writer_lsn),
                "in_recovery": self.writer_in_recovery,
                "probe_error": self.writer_error,
            },
            "replicas": replicas,
        }

    def prometheus_text(self) -> str:
        """The counters and gauges in Prometheus' text exposition format (version 0.0.4)."""
        data = self.report()
        lines: list[str] = []

        def metric(name: str, kind: str, help_text: str, samples: list[tuple[str, object]]):
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")
            for labels, value in samples:
                shown = (
                    "NaN" if value is None else (int(value) if isinstance(value, bool) else value)
                )
                lines.append(f"{name}{labels} {shown}")

        replicas = data["replicas"]
        reads = [(_labels(alias=WRITER), data["writer"]["reads"])]
        reads += [(_labels(alias=alias), r["reads"]) for alias, r in replicas.items()]
        metric("pinsite_db_reads_total", "counter", "Reads routed to each database alias.", reads)
        metric(
            "pinsite_db_writer_reads_total",
            "counter",
            "Reads the writer served, by why they did not go to a replica.",
            [
                (_labels(reason=reason), count)
                for reason, count in data["writer"]["reads_by_reason"].items()
            ],
        )
        per_replica = [
            ("pinsite_db_read_retries_total", "counter", "Reads that failed on a replica with a connection error and were retried on the writer.", "retries"),
            ("pinsite_db_replica_ejections_total", "counter", "Times a replica left the rotation.", "ejections"),
            ("pinsite_db_replica_in_rotation", "gauge", "1 if the replica takes reads now.", "in_rotation"),
            ("pinsite_db_replica_lag_seconds", "gauge", "Replication lag from WAL positions (to within one probe interval).", "lag_seconds"),
            ("pinsite_db_replica_lag_bytes", "gauge", "WAL bytes the replica has not replayed.", "lag_bytes"),
            ("pinsite_db_replica_last_probe_age_seconds", "gauge", "Seconds since the replica last answered a probe.", "last_probe_age_seconds"),
        ]  # fmt: skip
        for name, kind, help_text, key in per_replica:
            samples = [(_labels(alias=alias), r[key]) for alias, r in replicas.items()]
            metric(name, kind, help_text, samples)
        metric(
            "pinsite_db_pins_total",
            "counter",
            "Responses that pinned a client's reads to the writer after it wrote.",
            [("", data["pins"])],
        )
        metric(
            "pinsite_db_probe_rounds_total",
            "counter",
            "Probe rounds run.",
            [("", data["probe_rounds"])],
        )
        return "\n".join(lines) + "\n"


def probe(alias: str, budget: float, source: str = WAL) -> ProbeResult:
    """One probe on its own psycopg connection, bounded by connect and statement timeouts.

    ``source`` is how this server's position or lag was read last time; a server without the WAL
    functions is asked Aurora's status function instead, and one without either has no lag.
    """
    import psycopg  # only processes with replicas probe; SQLite-only checkouts never import it

    started = time.monotonic()
    try:
        params = connections[alias].get_connection_params()
        for django_only in ("context", "cursor_factory", "prepare_threshold"):
            params.pop(django_only, None)
        params["connect_timeout"] = max(PSYCOPG_MIN_CONNECT_TIMEOUT, math.ceil(budget))
        params["application_name"] = "pinsite-replica-probe"
        options = params.get("options", "")
        params["options"] = f"{options} -c statement_timeout={int(budget * 1000)}".strip()
        conn = psycopg.connect(autocommit=True, **params)
        try:
            row = conn.execute(ROLE_SQL).fetchone()
            if row is None:  # the query always answers one row; no row is no usable server
                raise psycopg.InterfaceError("the role query gave no row")
            (in_recovery,) = row
            if alias == WRITER:
                found = _writer_position(conn, source) if not in_recovery else {}
            else:
                found = _replica_position(conn, source) if in_recovery else {}
        finally:
            conn.close()
    except Exception as error:  # refused, timed out, auth, cancelled: all mean "not usable"
        return ProbeResult(alias, started, time.monotonic(), error=_first_line(error))
    return ProbeResult(alias, started, time.monotonic(), in_recovery=in_recovery, **found)


def _writer_position(conn, source: str) -> dict:
    import psycopg

    if source == NO_LAG:
        return {"source": NO_LAG}
    try:
        lsn, xmax = conn.execute(WRITER_WAL_SQL).fetchone()
    except psycopg.OperationalError:  # a timeout or a lost connection is the probe's failure
        raise
    except psycopg.DatabaseError:  # no such function here (Aurora): stop asking
        return {"source": NO_LAG}
    return {"lsn": lsn_to_int(lsn), "xmax": xmax, "source": WAL}


def _replica_position(conn, source: str) -> dict:
    import psycopg

    if source == WAL:
        try:
            lsn, paused, xmax = conn.execute(REPLICA_WAL_SQL).fetchone()
        except psycopg.OperationalError:
            raise
        except psycopg.DatabaseError:
            source = AURORA
        else:
            return {"lsn": lsn_to_int(lsn), "replay_paused": paused, "xmax": xmax, "source": WAL}
    if source == AURORA:
        try:
            row = conn.execute(AURORA_LAG_SQL).fetchone()
        except psycopg.OperationalError:
            raise
        except psycopg.DatabaseError:
            return {"source": NO_LAG}
        lag_ms = row[0] if row else None
        return {"reported_lag": None if lag_ms is None else lag_ms / 1000, "source": AURORA}
    return {"source": NO_LAG}


def _cumulate(weights: list[float]) -> list[float]:
    total, out = 0.0, []
    for weight in weights:
        total += weight
        out.append(total)
    return out


def _weights(rotation: Rotation) -> list[float]:
    previous, out = 0.0, []
    for cumulative in rotation.cum_weights:
        out.append(cumulative - previous)
        previous = cumulative
    return out


def _labels(**labels: str) -> str:
    inner = ",".join(
        f'{key}="{value.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for key, value in labels.items()
    )
    return "{" + inner + "}"


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:200]


_health: ReplicaHealth | None = None
_health_lock = threading.Lock()


def health() -> ReplicaHealth:
    """This process's replica health (made on first use from ``settings.REPLICA_ALIASES``)."""
    global _health
    current = _health
    if current is None:
        with _health_lock:
            if _health is None:
                _health = ReplicaHealth(list(settings.REPLICA_ALIASES))
            current = _health
    return current


def start_prober() -> None:
    """Start this process's prober if readers are configured (a web server's entry point)."""
    if settings.REPLICA_ALIASES:
        health().ensure_prober()


def reset() -> None:
    """Forget all state and counters (a forked child; tests). The old prober is stopped."""
    global _health
    old, _health = _health, None
    if old is not None and old._pid == os.getpid():
        old.stop_prober(timeout=0.5)


def _after_fork_in_child() -> None:
    # The parent's prober thread does not exist here and its locks may be held: start over, with
    # counters that belong to this process alone.
    global _health, _health_lock
    _health = None
    _health_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)
