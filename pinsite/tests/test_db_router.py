"""The read-replica router against the session's real primary and two streaming replicas.

Each property of the policy in pinsite/router.py has a test here. Faults are real: a replica's
postmaster is killed (-9) or stopped (SIGSTOP), its replay paused or delayed, a replica promoted;
every fault is undone in a ``finally`` so later tests meet two healthy replicas again.
Queries are counted per alias with ``connections[alias].execute_wrapper``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from celery import shared_task
from django.conf import settings
from django.db import OperationalError, connections, transaction
from django.http import HttpResponse
from django.test import Client, RequestFactory

from accounts.models import User
from accounts.tests.factories import make_user
from boards.models import Board
from boards.tests.factories import make_board
from pins.models import Pin
from pins.tests.factories import make_pin
from pinsite.db import replica_health, router
from pinsite.db.router import (
    PIN_COOKIE,
    ReadYourWritesMiddleware,
    current_scope,
    format_pin,
    read_pin,
    replica_reads,
)
from stack.postgres import PG_BIN, as_postgres, give_to_postgres, postmaster, run_all
from stack.processes import children, signal_all, wait_until
from stack.pytest_plugin import current_stack
from stack.stack import Stack

REPLICAS = ("replica_1", "replica_2")
ROUTED = pytest.mark.django_db(transaction=True, databases="__all__")


# --- helpers --------------------------------------------------------------------------------------


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds until ``condition`` held; fails the test with ``what`` after ``timeout``."""
    began = time.monotonic()
    while not condition():
        if time.monotonic() - began > timeout:
            pytest.fail(f"not within {timeout} s: {what}\n{replica_health.health().report()}")
        time.sleep(0.02)
    return time.monotonic() - began


def the_stack() -> Stack:
    """The session's services: these tests run only when they started."""
    stack = current_stack()
    assert stack is not None
    return stack


def pinned(value: str) -> tuple[int | None, float]:
    """``read_pin`` of a cookie value that holds a pin."""
    pin = read_pin(value)
    assert pin is not None, value
    return pin


def rotation() -> tuple[str, ...]:
    return replica_health.health().rotation.aliases


def port_of(alias: str) -> int:
    return int(connections.settings[alias]["PORT"])


def data_dir_of(alias: str) -> Path:
    stack = the_stack()
    return stack.replica_dirs[stack.replica_ports.index(port_of(alias))]


def caught_up() -> None:
    the_stack().wait_replicas_caught_up(timeout=10)


@dataclass
class QueryLog:
    """Every statement run through Django in the recording threads, with its alias."""

    entries: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _record(self, alias, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        with self.lock:
            self.entries.append((alias, sql))
        return result

    @contextlib.contextmanager
    def recording(self) -> Iterator[QueryLog]:
        """Record this thread's queries on every alias (connections are per thread)."""
        with contextlib.ExitStack() as stack:
            for alias in connections:
                wrapper = _bind(self._record, alias)
                stack.enter_context(connections[alias].execute_wrapper(wrapper))
            yield self

    def selects(self) -> Counter:
        return Counter(alias for alias, sql in self.entries if _is_select(sql))

    def non_selects(self, aliases) -> list[tuple[str, str]]:
        return [(a, sql) for a, sql in self.entries if a in aliases and not _is_select(sql)]


def _bind(record, alias):
    return lambda execute, sql, params, many, context: record(
        alias, execute, sql, params, many, context
    )


def _is_select(sql: str) -> bool:
    return sql.lstrip().upper().startswith("SELECT")


@dataclass
class LoadResult:
    latencies: list[float]
    failures: list[str]
    log: QueryLog

    @property
    def p99_ms(self) -> float:
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


class Load:
    """Threads requesting ``path`` with the test client until stopped; any non-200 is a failure.

    ``fresh_connections`` closes each thread's connections after every request, so every request
    opens new ones (what a hung replica hurts); otherwise they are kept as CONN_MAX_AGE keeps them.
    """

    def __init__(self, path: str, threads: int = 4, fresh_connections: bool = False) -> None:
        self.path = path
        self.fresh = fresh_connections
        self.stop_event = threading.Event()
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self.log = QueryLog()
        self.threads = [threading.Thread(target=self._work, daemon=True) for _ in range(threads)]

    def _work(self) -> None:
        client = Client()
        try:
            with self.log.recording():
                while not self.stop_event.is_set():
                    began = time.monotonic()
                    try:
                        status = client.get(self.path).status_code
                        if status != 200:
                            self.failures.append(f"HTTP {status}")
                    except Exception as error:
                        self.failures.append(repr(error))
                    self.latencies.append(time.monotonic() - began)
                    if self.fresh:
                        connections.close_all()
        finally:
            connections.close_all()

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(30)

    def result(self) -> LoadResult:
        return LoadResult(list(self.latencies), list(self.failures), self.log)


# --- faults: each undoes itself -----------------------------------------------------------------


@contextlib.contextmanager
def replica_killed(*aliases: str) -> Iterator[None]:
    """SIGKILL the replicas' postmasters; afterwards start them again and let them catch up."""
    stack = the_stack()
    try:
        for alias in aliases:
            master = postmaster(data_dir_of(alias))
            assert master is not None, f"{alias} is not running"
            backends = children(master.pid)
            os.kill(master.pid, signal.SIGKILL)
            # Orphaned backends notice and exit; a restart must not meet their shared memory.

            def exited(b: list[int] = backends) -> bool:
                return not any(map(_alive, b))

            if not wait_until(exited, 10):
                signal_all(backends, signal.SIGKILL)
        yield
    finally:
        stack.start(["postgres"])  # starts the replicas that are not running, nothing else
        caught_up()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@contextlib.contextmanager
def replica_hung(alias: str) -> Iterator[None]:
    """SIGSTOP the postmaster: its running backends still answer, new connections hang."""
    master = postmaster(data_dir_of(alias))
    assert master is not None
    os.kill(master.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(master.pid, signal.SIGCONT)


@contextlib.contextmanager
def replay_paused(alias: str) -> Iterator[None]:
    stack = the_stack()
    stack.psql("SELECT pg_wal_replay_pause()", port=port_of(alias))
    try:
        yield
    finally:
        stack.psql("SELECT pg_wal_replay_resume()", port=port_of(alias))
        caught_up()


@contextlib.contextmanager
def apply_delay(delay: str, *aliases: str) -> Iterator[None]:
    """A fixed replication delay (recovery_min_apply_delay) on the given replicas."""
    stack = the_stack()
    try:
        for alias in aliases:
            stack.psql(
                f"ALTER SYSTEM SET recovery_min_apply_delay = '{delay}'", port=port_of(alias)
            )
            stack.psql("SELECT pg_reload_conf()", port=port_of(alias))
        yield
    finally:
        for alias in aliases:
            stack.psql("ALTER SYSTEM RESET recovery_min_apply_delay", port=port_of(alias))
            stack.psql("SELECT pg_reload_conf()", port=port_of(alias))
        caught_up()


@contextlib.contextmanager
def writes_every(seconds: float) -> Iterator[None]:
    """Keep the writer's WAL moving (a committed transaction with an xid) from its own connection."""
    params = connections["default"].settings_dict
    stop = threading.Event()
    conn = psycopg.connect(
        host=params["HOST"],
        port=params["PORT"],
        user=params["USER"],
        dbname=params["NAME"],
        autocommit=True,
    )

    def loop() -> None:
        while not stop.wait(seconds):
            conn.execute("SELECT txid_current()")

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)
        conn.close()


@contextlib.contextmanager
def extra_replica() -> Iterator[tuple[int, Path]]:
    """A third streaming replica on a free port, made like the session's; removed afterwards."""
    stack = the_stack()
    folder = stack.root / "pg" / f"replica-extra-{uuid.uuid4().hex[:6]}"
    slot = "slot_" + folder.name.replace("-", "_")
    log = stack.logs / f"postgres-{folder.name}.log"
    port = _free_port()
    try:
        backup = [
            str(PG_BIN / "pg_basebackup"),
            "-h",
            "127.0.0.1",
            "-p",
            str(stack.ports["postgres"]),
        ]
        backup += ["-U", "postgres", "-R", "-X", "stream", "-C", "-S", slot, "--checkpoint=fast"]
        run_all([as_postgres([*backup, "--no-sync", "-D", str(folder)])])
        with open(folder / "postgresql.auto.conf", "a") as conf:
            conf.write(f"port = {port}\nunix_socket_directories = '{folder}'\n")
        log.touch()
        give_to_postgres(log)
        run_all(
            [
                as_postgres(
                    [str(PG_BIN / "pg_ctl"), "-w", "-D", str(folder), "-l", str(log), "start"]
                )
            ]
        )
        yield port, folder
    finally:
        if (folder / "postmaster.pid").exists():
            with contextlib.suppress(Exception):
                run_all(
                    [
                        as_postgres(
                            [
                                str(PG_BIN / "pg_ctl"),
                                "-D",
                                str(folder),
                                "-m",
                                "immediate",
                                "-w",
                                "stop",
                            ]
                        )
                    ]
                )
        shutil.rmtree(folder, ignore_errors=True)
        active = f"SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}' AND active"  # noqa: S608
        wait_until(lambda: stack.psql(active).strip() == "0", 5)
        stack.psql(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "  # noqa: S608
            f"WHERE slot_name = '{slot}' AND NOT active"
        )


def _free_port() -> int:
    from stack.processes import free_ports

    return free_ports(1)[0]


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def routing(services, settings):
    """Fresh per-process replica health with a fast prober, both replicas in rotation, no scope."""
    settings.REPLICA_PROBE_INTERVAL = 0.1
    settings.REPLICA_MAX_LAG = 5.0
    settings.REPLICA_PIN_SECONDS = 6.0
    settings.REPLICA_WEIGHTS = {}
    replica_health.reset()
    token = router._scope.set(None)  # the test thread's own earlier writes must not pin it
    health = replica_health.health()
    health.ensure_prober()
    wait_for(lambda: rotation() == REPLICAS, 10, "both replicas in rotation")
    try:
        yield health
    finally:
        router._scope.reset(token)
        replica_health.reset()


@pytest.fixture
def feed(routing):
    """A person with a public board of three pins, replayed on both replicas."""
    owner = make_user(f"feed-{uuid.uuid4().hex[:6]}")
    board = make_board(owner, "Public")
    pins = [make_pin(owner, board, title=f"Feed pin {n}") for n in range(3)]
    caught_up()
    router._scope.set(None)  # the writes above made this thread read the writer
    return pins


def staff_client() -> Client:
    staff = make_user(f"staff-{uuid.uuid4().hex[:6]}")
    User.objects.filter(pk=staff.pk).update(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    # force_login writes the session outside any request, so no pin covers it: let it replicate.
    caught_up()
    return client


# --- offload and placement -----------------------------------------------------------------------


@ROUTED
def test_reads_outside_transactions_go_to_the_replicas_evenly(feed, client):
    log = QueryLog()
    with log.recording():
        for _ in range(40):
            assert client.get("/").status_code == 200
        for pin in feed:
            assert client.get(pin.get_absolute_url()).status_code == 200
    selects = log.selects()
    replica_reads_count = sum(selects[alias] for alias in REPLICAS)
    share = replica_reads_count / sum(selects.values())
    assert share >= 0.95, selects
    for alias in REPLICAS:  # one choice per request: ~50/50 over 43 requests
        assert selects[alias] >= 0.25 * replica_reads_count, selects
    assert not log.non_selects(REPLICAS)


@ROUTED
def test_a_weight_of_zero_drains_a_replica(feed, client, settings):
    settings.REPLICA_WEIGHTS = {"replica_1": 0.0, "replica_2": 1.0}
    wait_for(lambda: rotation() == ("replica_2",), 2, "replica_1 drained")
    log = QueryLog()
    with log.recording():
        for _ in range(10):
            assert client.get("/").status_code == 200
    assert log.selects()["replica_1"] == 0
    assert log.selects()["replica_2"] > 0


@ROUTED
def test_writes_never_reach_a_replica(feed):
    owner = feed[0].owner
    staff = staff_client()
    caught_up()
    log = QueryLog()
    with log.recording(), replica_reads():
        person, _ = User.objects.get_or_create(username=f"goc-{uuid.uuid4().hex[:6]}")
        Board.objects.filter(owner=owner).update(description="updated")
        with transaction.atomic():
            list(Board.objects.select_for_update().filter(owner=owner))
        board = Board.objects.get(owner=owner)  # this scope wrote: reads the writer now
        board.description = "saved"
        board.save()
        Board.objects.bulk_create([Board(owner=person, name="Bulk", slug="bulk")])
        Board.objects.filter(owner=person).delete()
    response = None
    with log.recording():
        response = staff.post(
            "/admin/pins/pin/",
            {"action": "hide", "_selected_action": [feed[0].pk], "index": 0},
        )
    assert response.status_code == 302
    assert log.non_selects(REPLICAS) == []
    writer_statements = [sql.split()[0].upper() for alias, sql in log.entries if alias == "default"]
    assert {"INSERT", "UPDATE", "DELETE"} <= set(writer_statements)
    assert any("FOR UPDATE" in sql for alias, sql in log.entries if alias == "default")
    assert Pin.objects.get(pk=feed[0].pk).moderation_state != "visible"


@ROUTED
def test_reads_inside_a_transaction_use_the_writer(feed):
    log = QueryLog()
    with log.recording(), replica_reads():
        with transaction.atomic():
            assert len(list(Pin.objects.all())) == 3
            assert Board.objects.count() >= 1
            assert User.objects.filter(pk=feed[0].owner_id).exists()
        inside = log.selects()
        assert set(inside) == {"default"}
        assert Pin.objects.count() == 3  # outside again: a replica
    assert sum(log.selects()[alias] for alias in REPLICAS) == 1


# --- read-your-writes ------------------------------------------------------------------------------


@ROUTED
def test_post_redirect_get_never_reads_stale_data_with_2s_replica_lag(routing, settings, client):
    settings.REPLICA_MAX_LAG = 30.0  # keep the lagging replicas in rotation: only the pin protects
    settings.REPLICA_PIN_SECONDS = 10.0
    person = make_user(f"writer-{uuid.uuid4().hex[:6]}")
    client.force_login(person)
    caught_up()  # the session row is on the replicas before they fall behind
    stranger = Client()
    stale_for_stranger = 0
    log = QueryLog()
    with apply_delay("2s", *REPLICAS):
        for n in range(5):
            response = client.post("/boards/new/", {"name": f"Lagged {n}", "description": ""})
            assert response.status_code == 302, response.content[:500]
            assert PIN_COOKIE in response.cookies
            with log.recording():
                page = client.get(response["Location"])
            assert page.status_code == 200, f"stale read after the redirect (board {n})"
            assert f"Lagged {n}".encode() in page.content
            # Without the pin the same page is missing: the lag is real.
            stale_for_stranger += stranger.get(response["Location"]).status_code == 404
        assert stale_for_stranger >= 4
        assert log.selects()["default"] > 0
        assert sum(log.selects()[alias] for alias in REPLICAS) == 0  # none had replayed the write
        # Once a replica has replayed the write (2 s + a probe), the pinned browser reads it again.
        wait_for(
            lambda: all(
                routing.in_rotation(alias, pinned(client.cookies[PIN_COOKIE].value)[0])
                for alias in REPLICAS
            ),
            8,
            "replicas replayed the pinned position",
        )
        after = QueryLog()
        with after.recording():
            assert client.get(response["Location"]).status_code == 200
        assert after.selects()["default"] == 0
    assert routing.counters.writer_reasons.get("pinned", 0) > 0
    assert routing.counters.pins >= 5


@ROUTED
def test_a_time_pin_without_a_wal_position_reads_the_writer_until_it_ends(feed, client, settings):
    client.cookies[PIN_COOKIE] = format_pin(None, time.time() + 0.5)
    log = QueryLog()
    with log.recording():
        assert client.get("/").status_code == 200
    assert set(log.selects()) == {"default"}
    time.sleep(0.6)
    later = QueryLog()
    with later.recording():
        assert client.get("/").status_code == 200
    assert later.selects()["default"] == 0


def test_pin_cookies_that_are_expired_forged_or_garbage_are_ignored_or_cut(settings):
    settings.REPLICA_PIN_SECONDS = 5.0
    now = time.time()
    assert read_pin("") is None
    assert read_pin("not-a-pin") is None
    assert read_pin("zz:123") is None
    assert read_pin(f"10:{now - 1}") is None
    assert read_pin("10:nan") is None
    lsn, until = pinned(f"ff:{now + 3600}")
    assert lsn == 255 and until <= time.time() + 5.0
    assert pinned(format_pin(None, now + 2))[0] is None


def test_lag_counts_finished_transactions_not_a_position_inside_an_open_one(settings):
    """Pure bookkeeping: a writer position the replica cannot reach (inside a record of a
    transaction still open) is no lag while the replica has every finished transaction; a
    transaction finished on the writer and not on the replica is."""
    settings.REPLICA_MAX_LAG = 1.0
    settings.REPLICA_WEIGHTS = {}
    health = replica_health.ReplicaHealth(["replica_1"])
    t0 = time.monotonic()

    def round_at(at: float, writer: tuple[int, int], replica: tuple[int, int]) -> None:
        results = {
            "default": replica_health.ProbeResult(
                "default", at, at, False, writer[0], xmax=writer[1]
            ),
            "replica_1": replica_health.ProbeResult(
                "replica_1", at, at, True, replica[0], xmax=replica[1]
            ),
        }
        health._apply(results, ["default", "replica_1"], [], 1.0)

    for step in range(5):  # an open transaction: position 2000 never replayed, xmax unchanged
        round_at(t0 + step, (2000, 700), (1990, 700))
    assert health.states["replica_1"].lag_seconds == 0
    assert health.rotation.aliases == ("replica_1",)
    round_at(t0 + 5, (2100, 701), (1990, 700))  # a commit the replica has not replayed
    round_at(t0 + 6.5, (2100, 701), (1990, 700))
    assert health.states["replica_1"].lag_seconds == 1.5
    assert health.rotation.aliases == ()


def test_the_rotation_follows_probe_results(settings):
    """Pure bookkeeping, fed probe results by hand: WAL-dated lag, reported lag, role, rejoin."""
    settings.REPLICA_MAX_LAG = 1.0
    settings.REPLICA_WEIGHTS = {}
    health = replica_health.ReplicaHealth(list(REPLICAS))
    aliases = ["default", *REPLICAS]
    t0 = time.monotonic()

    def round_at(at: float, writer_lsn: int, **replicas) -> None:
        results = {"default": replica_health.ProbeResult("default", at, at, False, writer_lsn)}
        for alias, fields in replicas.items():
            results[alias] = replica_health.ProbeResult(alias, at, at, **fields)
        health._apply(results, aliases, [], 1.0)

    aurora = {"in_recovery": True, "source": replica_health.AURORA}
    round_at(t0, 1000, replica_1={"in_recovery": True, "lsn": 1000}, replica_2=aurora)
    assert health.rotation.aliases == REPLICAS  # first good probe: in at once
    # The writer moved on at t0+1; replica_1 is still at 1000 at t0+1.5 and t0+2.5.
    round_at(t0 + 1, 2000, replica_1={"in_recovery": True, "lsn": 1000}, replica_2=aurora)
    round_at(t0 + 1.5, 2000, replica_1={"in_recovery": True, "lsn": 1000}, replica_2=aurora)
    assert health.states["replica_1"].lag_seconds == 0.5
    assert health.states["replica_1"].lag_bytes == 1000
    assert health.rotation.aliases == REPLICAS
    round_at(t0 + 2.5, 2000, replica_1={"in_recovery": True, "lsn": 1000}, replica_2=aurora)
    assert health.rotation.aliases == ("replica_2",)
    assert health.states["replica_1"].reason == "lagging 1.5 s (max 1 s)"
    # Caught up: back after two good probes in a row, not one.
    caught = {"in_recovery": True, "lsn": 2000}
    round_at(t0 + 3, 2000, replica_1=caught, replica_2={**aurora, "reported_lag": 2.5})
    assert health.rotation.aliases == ()  # replica_2 reports 2.5 s of lag itself
    assert health.states["replica_2"].lag_source == replica_health.AURORA
    round_at(t0 + 4, 2000, replica_1=caught, replica_2={"in_recovery": False})
    assert health.rotation.aliases == ("replica_1",)
    assert health.states["replica_2"].reason.startswith("not in recovery")
    assert health.counters.ejections == {"replica_1": 1, "replica_2": 1}
    assert health.pick(min_lsn=2001) is None and health.pick(min_lsn=2000) == "replica_1"


# --- no leaks ----------------------------------------------------------------------------------------


@ROUTED
def test_the_scope_is_reset_after_an_exception_and_the_next_request_reads_replicas(feed, client):
    def failing_view(request):
        list(Pin.objects.all())
        Board.objects.filter(pk=-1).update(name="x")  # a write: this request is pinned
        raise RuntimeError("view failed")

    middleware = ReadYourWritesMiddleware(failing_view)
    with pytest.raises(RuntimeError):
        middleware(RequestFactory().post("/anything"))
    assert current_scope() is None
    log = QueryLog()
    with log.recording():
        assert client.get("/").status_code == 200
    assert log.selects()["default"] == 0


@ROUTED
def test_a_pinned_request_does_not_pin_a_concurrent_request_in_another_thread(feed):
    other_done = threading.Event()
    logs = {"pinned": QueryLog(), "other": QueryLog()}
    errors: list[BaseException] = []

    def pinned_view(request):
        list(Pin.objects.all())
        other_done.wait(10)  # the other request runs while this one is pinned
        list(Board.objects.all())
        return HttpResponse("ok")

    def plain_view(request):
        list(Pin.objects.all())
        list(Board.objects.all())
        return HttpResponse("ok")

    def run(name, view, request, after=None):
        try:
            with logs[name].recording():
                ReadYourWritesMiddleware(view)(request)
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()
            if after is not None:
                after.set()

    factory = RequestFactory()
    pinned = threading.Thread(target=run, args=("pinned", pinned_view, factory.post("/p")))
    pinned.start()
    time.sleep(0.1)
    other = threading.Thread(target=run, args=("other", plain_view, factory.get("/g"), other_done))
    other.start()
    other.join(10)
    pinned.join(10)
    assert not errors
    assert set(logs["pinned"].selects()) == {"default"}
    assert logs["other"].selects()["default"] == 0
    assert sum(logs["other"].selects()[alias] for alias in REPLICAS) == 2
    assert current_scope() is None


@shared_task
def reading_task() -> str:
    return Pin.objects.all().db


@shared_task(replica_reads=True)  # type: ignore[call-overload]  # celery keeps extra options on the task
def read_only_task() -> str:
    return Pin.objects.all().db


@shared_task(replica_reads=True)  # type: ignore[call-overload]  # celery keeps extra options on the task
def read_only_task_that_writes() -> tuple[str, str]:
    before = Pin.objects.all().db
    Board.objects.filter(pk=-1).update(name="x")
    return before, Pin.objects.all().db


@ROUTED
def test_tasks_read_the_writer_unless_declared_read_only(routing):
    assert reading_task.apply().get() == "default"
    assert read_only_task.apply().get() in REPLICAS
    before, after = read_only_task_that_writes.apply().get()
    assert before in REPLICAS and after == "default"
    assert current_scope() is None  # nothing stays behind in the caller's context
    with replica_reads():
        assert reading_task.apply().get() == "default"
        assert Pin.objects.all().db in REPLICAS


# --- faults -----------------------------------------------------------------------------------------


@ROUTED
def test_a_replica_killed_under_load_fails_no_request_and_rejoins_after_restart(feed, routing):
    with Load("/", threads=4) as load:
        time.sleep(0.8)
        with replica_killed("replica_1"):
            killed_at = time.monotonic()
            wait_for(lambda: "replica_1" not in rotation(), 2, "killed replica ejected")
            ejected = len(load.log.entries)
            time.sleep(1.0)
            after_ejection = Counter(alias for alias, _ in load.log.entries[ejected:])
            during = load.result()
        # Restarted (the context manager's exit): it rejoins and takes reads again.
        wait_for(lambda: "replica_1" in rotation(), 5, "replica_1 rejoined")
        rejoined = len(load.log.entries)
        time.sleep(1.0)
        after_rejoin = Counter(alias for alias, _ in load.log.entries[rejoined:])
    result = load.result()
    assert result.failures == []
    assert after_ejection["replica_1"] == 0 and after_ejection["replica_2"] > 0
    assert after_rejoin["replica_1"] > 0
    assert routing.counters.ejections.get("replica_1", 0) >= 1
    assert time.monotonic() - killed_at < 30
    print(f"kill -9: {len(during.latencies)} requests, p99 {during.p99_ms:.0f} ms, 0 failed")


@ROUTED
def test_a_hung_replica_is_ejected_within_the_probe_budget_and_fails_no_request(feed, routing):
    budget = replica_health.probe_budget(settings.REPLICA_PROBE_INTERVAL)
    with replica_hung("replica_2"), Load("/", threads=3, fresh_connections=True) as load:
        hung_at = time.monotonic()
        took = wait_for(lambda: "replica_2" not in rotation(), 3, "hung replica ejected")
        assert took <= settings.REPLICA_PROBE_INTERVAL + budget + 0.5
        time.sleep(2.5)  # requests that chose it before the ejection wait out their connect
        load.log.entries.clear()
        time.sleep(0.5)
        reason = routing.states["replica_2"].reason
    result = load.result()
    assert result.failures == []
    assert load.log.selects()["replica_2"] == 0
    assert "no answer" in reason or "hung" in reason or "read failed" in reason, reason
    # Bounded by one connect timeout at worst, never stacked per query.
    assert result.p99_ms < 1000 * (settings.DB_CONNECT_TIMEOUT + 1.0), result.p99_ms
    wait_for(lambda: "replica_2" in rotation(), 6, "replica_2 rejoined after SIGCONT")
    assert time.monotonic() - hung_at < 30


@ROUTED
def test_a_replica_with_paused_replay_leaves_the_rotation_past_max_lag(feed, routing, settings):
    settings.REPLICA_MAX_LAG = 0.5
    with writes_every(0.05), Load("/", threads=2) as load:
        with replay_paused("replica_1"):
            took = wait_for(lambda: "replica_1" not in rotation(), 3, "lagging replica ejected")
            assert took <= settings.REPLICA_MAX_LAG + 3 * settings.REPLICA_PROBE_INTERVAL + 0.5
            assert routing.states["replica_1"].reason.startswith("lagging")
            assert routing.states["replica_1"].lag_bytes > 0
        wait_for(lambda: "replica_1" in rotation(), 5, "replica_1 rejoined after resume")
    assert load.result().failures == []


@contextlib.contextmanager
def write_transaction_open() -> Iterator[psycopg.Connection]:
    """A write transaction on its own connection, left open with WAL written (rows inserted,
    not committed) until the block ends, then rolled back."""
    params = connections["default"].settings_dict
    conn = psycopg.connect(
        host=params["HOST"], port=params["PORT"], user=params["USER"], dbname=params["NAME"]
    )
    table = f"open_write_{uuid.uuid4().hex[:8]}"
    try:
        conn.execute(f"CREATE TABLE {table} (n integer)")
        conn.commit()
        conn.execute(f"INSERT INTO {table} SELECT generate_series(1, 200)")
        yield conn
    finally:
        conn.rollback()
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.commit()
        conn.close()


@ROUTED
def test_an_open_write_transaction_keeps_the_readers_in_rotation(feed, routing, settings):
    """Uncommitted WAL is not lag: readers replay what the writer has flushed, and a transaction
    held open (its rows inserted, not committed) for several times the lag limit ejects nobody.
    Real lag meanwhile (replay paused on one reader, commits on the writer) still ejects it."""
    settings.REPLICA_MAX_LAG = 0.5
    seen: set[tuple[str, ...]] = set()
    with write_transaction_open():
        deadline = time.monotonic() + 4 * settings.REPLICA_MAX_LAG + 1
        while time.monotonic() < deadline:
            seen.add(rotation())
            time.sleep(0.02)
        assert seen == {REPLICAS}, (seen, routing.report())
        assert all(routing.states[alias].lag_seconds == 0 for alias in REPLICAS)

        with writes_every(0.05), replay_paused("replica_1"):
            wait_for(lambda: "replica_1" not in rotation(), 3, "lagging replica ejected")
            assert routing.states["replica_1"].reason.startswith("lagging")
            assert "replica_2" in rotation()
    wait_for(lambda: rotation() == REPLICAS, 5, "replica_1 rejoined after resume")


@ROUTED
def test_with_every_replica_down_the_writer_serves_and_a_counter_says_so(feed, routing):
    staff = staff_client()
    client = Client()
    with replica_killed(*REPLICAS):
        wait_for(lambda: rotation() == (), 3, "both replicas out of rotation")
        before = routing.counters.writer_reasons.get("no_healthy_replica", 0)
        for _ in range(5):
            assert client.get("/").status_code == 200
        assert routing.counters.writer_reasons["no_healthy_replica"] > before
        report = staff.get("/healthz/replicas").json()
        assert report["writer"]["reads_by_reason"]["no_healthy_replica"] > 0
        assert not any(r["in_rotation"] for r in report["replicas"].values())
    wait_for(lambda: rotation() == REPLICAS, 6, "both replicas rejoined")


@ROUTED
def test_a_read_that_fails_on_a_replica_is_retried_once_on_the_writer(feed, routing, settings):
    settings.REPLICA_WEIGHTS = {"replica_2": 0.0}
    wait_for(lambda: rotation() == ("replica_1",), 2, "only replica_1 in rotation")
    log = QueryLog()
    with log.recording(), replica_reads():
        assert Pin.objects.count() == 3
        backend_pid = connections["replica_1"].connection.info.backend_pid
        the_stack().psql(f"SELECT pg_terminate_backend({backend_pid})", port=port_of("replica_1"))
        time.sleep(0.05)
        assert Pin.objects.count() == 3  # the connection died under it: served by the writer
    assert [alias for alias, _ in log.entries] == ["replica_1", "default"]
    assert routing.counters.retries["replica_1"] == 1
    assert routing.counters.writer_reasons["retry"] == 1
    assert "replica_1" not in rotation()  # out at once, back after good probes
    wait_for(lambda: "replica_1" in rotation(), 3, "replica_1 readmitted by the prober")


@ROUTED
def test_a_compiled_query_prepared_on_a_replica_that_dies_is_retried_on_the_writer(
    feed, routing, settings
):
    """The compiled hot queries (pinsite.db.compiled) use a server-side binding cursor of their own,
    prepared on the replica's connection: a replica dying under one is retried as any read."""
    from pins.selectors import _cards_by_ids

    settings.REPLICA_WEIGHTS = {"replica_2": 0.0}
    wait_for(lambda: rotation() == ("replica_1",), 2, "only replica_1 in rotation")
    ids = [pin.pk for pin in feed]
    log = QueryLog()
    with log.recording(), replica_reads():
        for _ in range(6):  # past the prepare threshold: the statement is prepared there
            assert {pin.pk for pin in _cards_by_ids(user=None, ids=ids)} == set(ids)
        replica = connections["replica_1"].connection
        prepared = replica.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0]
        backend_pid = replica.info.backend_pid
        the_stack().psql(f"SELECT pg_terminate_backend({backend_pid})", port=port_of("replica_1"))
        time.sleep(0.05)
        assert {pin.pk for pin in _cards_by_ids(user=None, ids=ids)} == set(ids)
    assert prepared >= 1
    assert [alias for alias, _ in log.entries] == ["replica_1"] * 6 + ["default"]
    assert routing.counters.retries["replica_1"] == 1
    wait_for(lambda: "replica_1" in rotation(), 3, "replica_1 readmitted by the prober")


@ROUTED
def test_a_failed_connection_is_retried_but_never_inside_a_transaction_or_for_a_write(feed):
    with replica_killed("replica_2"):
        connections["replica_2"].close()
        # Connecting fails: the read moves to the writer, with or without the query log on.
        assert Pin.objects.using("replica_2").count() == 3
        connections["replica_2"].force_debug_cursor = True
        try:
            assert Pin.objects.using("replica_2").count() == 3
        finally:
            connections["replica_2"].force_debug_cursor = False
        # Inside a transaction on the replica, or for anything but a SELECT, the error stands.
        with pytest.raises(OperationalError), transaction.atomic(using="replica_2"):
            Pin.objects.using("replica_2").count()
        with pytest.raises(OperationalError), connections["replica_2"].cursor() as cursor:
            cursor.execute("SET search_path TO public")


@ROUTED
def test_a_promoted_replica_is_ejected_as_a_different_role(feed, routing):
    settings_dict = connections.settings["replica_2"]
    session_port = settings_dict["PORT"]
    with extra_replica() as (port, folder):
        try:
            settings_dict["PORT"] = str(port)
            connections["replica_2"].close()
            wait_for(
                lambda: (
                    routing.states["replica_2"].probed_at is not None and "replica_2" in rotation()
                ),
                5,
                "the extra replica serving as replica_2",
            )
            run_all([as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(folder), "-w", "promote"])])
            promoted_at = time.monotonic()
            wait_for(lambda: "replica_2" not in rotation(), 3, "promoted replica ejected")
            assert time.monotonic() - promoted_at < 1 + 3 * settings.REPLICA_PROBE_INTERVAL
            assert "not in recovery" in routing.states["replica_2"].reason
            log, client = QueryLog(), Client()
            with log.recording():
                for _ in range(10):
                    assert client.get("/").status_code == 200
            assert log.selects()["replica_2"] == 0
        finally:
            settings_dict["PORT"] = session_port
            connections["replica_2"].close()
    wait_for(lambda: rotation() == REPLICAS, 6, "the session's replica_2 back in rotation")


# --- what operators see ---------------------------------------------------------------------------------


@ROUTED
def test_replica_health_is_for_staff_and_metrics_for_a_token(feed, client, settings):
    settings.METRICS_TOKEN = "scrape-token-for-tests"
    assert client.get("/").status_code == 200
    assert client.get("/healthz/replicas").status_code == 403
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    report = staff_client().get("/healthz/replicas").json()
    assert set(report["replicas"]) == set(REPLICAS)
    for replica in report["replicas"].values():
        assert replica["in_rotation"] is True
        assert replica["lag_seconds"] is not None
        assert replica["replay_lsn"]
    scraped = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token-for-tests")
    assert scraped.status_code == 200
    assert scraped["Content-Type"].startswith("text/plain; version=0.0.4")
    text = scraped.content.decode()
    for line in (
        "# TYPE pinsite_db_reads_total counter",
        'pinsite_db_replica_in_rotation{alias="replica_1"} 1',
        "# TYPE pinsite_db_replica_lag_seconds gauge",
        "pinsite_db_replica_ejections_total",
        "pinsite_db_read_retries_total",
        "pinsite_db_pins_total",
    ):
        assert line in text
    reads = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith('pinsite_db_reads_total{alias="replica_')
    ]
    assert sum(reads) > 0
