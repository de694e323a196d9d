"""The read-replica router under load: its own PostgreSQL primary + 2 replicas, gunicorn, the feed.

Run by ``make bench`` (``python -m bench --only replicas [--quick]``); prints one JSON line. It
starts a separate stack (PostgreSQL only) under var/bench/replicas-stack, loads the demo content,
and for each scenario starts gunicorn (2 gthread workers x 4 threads, production-like settings:
DEBUG off, CONN_MAX_AGE and health checks on) and requests the anonymous home feed ``/`` from 8
client threads over loopback (http.client, keep-alive) for a fixed time.

* ``readers_0`` / ``readers_1`` / ``readers_2``: throughput and p50/p99 with no reader (every read
  on the writer), one reader, two readers.
* ``read_share``: for the 2-reader runs, the share of the app's reads of its own tables that the
  readers served, as the servers count them (``pg_stat_user_tables`` scans before gunicorn starts
  and after it stopped, so that every backend has reported; start-up and warm-up included).
  ``read_share_transactions`` counts every transaction instead, the probes' and the connection
  health checks' included (a read in autocommit is one transaction).
* ``kill``: 2 readers; a third into the run replica 1's postmaster gets SIGKILL. Failed requests
  over the whole run, and p99 of the requests started from the kill to the end (``p99_ms_during_kill``)
  next to p99 before it. The replica is restarted afterwards.
* ``router_overhead_us``: the router's decision per read (``db_for_read``), minus a router that
  always answers "default", measured in one process with both readers in rotation.

The machine runs the app, the databases and the load generator at once: compare ratios within
one run, not absolute figures across machines.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from stack.errors import StackError

REPO = Path(__file__).resolve().parent.parent
DATABASE = "pinsite_replicas"
CLIENTS = 8
GUNICORN = ["--worker-class", "gthread", "--workers", "2", "--threads", "4"]

OVERHEAD = """
import json, os, time
import django
django.setup()
from pins.models import Pin
from pinsite.db import router, replica_health

health = replica_health.health()
health.ensure_prober()
deadline = time.monotonic() + 10
while len(health.rotation.aliases) < 2 and time.monotonic() < deadline:
    time.sleep(0.05)
assert len(health.rotation.aliases) == 2, health.report()


class WriterOnly:
    def db_for_read(self, model, **hints):
        return "default"


def per_call_us(function, calls):
    best = None
    for _ in range(5):
        began = time.perf_counter()
        for _ in range(calls):
            function(Pin)
        took = (time.perf_counter() - began) / calls * 1e6
        best = took if best is None else min(best, took)
    return best


calls = int(os.environ["BENCH_CALLS"])
router = router.PrimaryReplicaRouter()
baseline = per_call_us(WriterOnly().db_for_read, calls)
with router.routing_scope(router.RoutingScope(kind="request")):
    in_request = per_call_us(router.db_for_read, calls)
unscoped = per_call_us(router.db_for_read, calls)
print(json.dumps({"baseline_us": baseline, "in_request_us": in_request, "unscoped_us": unscoped}))
"""


def _log(message: str) -> None:
    print(f"[replicas] {message}", file=sys.stderr, flush=True)


def _python() -> str:
    venv = REPO / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def _base_env(stack, root: Path) -> dict[str, str]:
    from stack.pytest_plugin import settings_variables

    env = {k: v for k, v in os.environ.items() if k not in settings_variables()}
    env.update(
        DJANGO_SETTINGS_MODULE="pinsite.settings",
        DJANGO_DEBUG="false",
        DJANGO_STATIC_MANIFEST="false",  # pages only; no collectstatic
        PINSITE_VAR_DIR=str(root / "var"),
        DATABASE_URL=stack.env()["DATABASE_URL"],
        LOG_LEVEL="WARNING",
    )
    return env


def _with_readers(env: dict[str, str], stack, readers: int) -> dict[str, str]:
    urls = stack.env()["DATABASE_REPLICA_URLS"].split(",")[:readers]
    return {**env, "DATABASE_REPLICA_URLS": ",".join(urls)}


def _manage(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [_python(), "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")


class Gunicorn:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        from stack.processes import free_ports

        self.port = free_ports(1)[0]
        self.log = log
        bind = ["-b", f"127.0.0.1:{self.port}"]
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [_python(), "-m", "gunicorn", "pinsite.wsgi:application", *GUNICORN, *bind],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while not self._ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"gunicorn did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)

    def _ready(self) -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
        except OSError:
            return False

    def stop(self) -> None:
        """SIGTERM the whole group (arbiter and workers); their DB backends exit with them."""
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


def _load(
    port: int,
    seconds: float,
    at=None,
    *,
    paths: tuple[str, ...] = ("/",),
    clients: int = CLIENTS,
    headers: dict[str, str] | None = None,
) -> list[tuple[float, float, bool]]:
    """(start, latency, ok) of every request ``clients`` threads made in ``seconds``.

    Each thread keeps one connection alive and goes round ``paths`` (thread n starts at the nth).
    ``at`` = (delay, function): the function runs in the main thread ``delay`` s into the run.
    """
    samples: list[tuple[float, float, bool]] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(number: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        mine = []
        turn = number
        while time.monotonic() < deadline:
            began = time.monotonic()
            path, turn = paths[turn % len(paths)], turn + 1
            try:
                conn.request("GET", path, headers=headers or {})
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
            mine.append((began, time.monotonic() - began, ok))
        conn.close()
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    if at is not None:
        delay, function = at
        time.sleep(delay)
        function()
    for thread in threads:
        thread.join()
    return samples


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _figures(samples: list[tuple[float, float, bool]], seconds: float) -> dict:
    latencies = [latency for _, latency, _ in samples]
    return {
        "requests": len(samples),
        "failed_requests": sum(1 for *_, ok in samples if not ok),
        "throughput_rps": round(len(samples) / seconds, 1),
        "p50_ms": round(1000 * _percentile(latencies, 0.50), 1),
        "p99_ms": round(1000 * _percentile(latencies, 0.99), 1),
    }


def _server_counts(stack) -> dict[str, tuple[int, int] | None]:
    """(transactions, app-table scans) each server has counted in the bench database; None: down.

    Table scans count the app's reads of its own tables and nothing else: the probes and the
    connection health checks touch no table.
    """
    sql = (
        "SELECT (SELECT xact_commit + xact_rollback FROM pg_stat_database"
        " WHERE datname = current_database()),"
        " (SELECT coalesce(sum(seq_scan + coalesce(idx_scan, 0)), 0) FROM pg_stat_user_tables)"
    )
    ports = {"writer": stack.ports["postgres"]}
    ports.update({f"replica_{n}": port for n, port in enumerate(stack.replica_ports, start=1)})
    counts: dict[str, tuple[int, int] | None] = {}
    for name, port in ports.items():
        try:
            transactions, scans = stack.psql(sql, port=port, db=DATABASE).strip().split("|")
        except StackError:
            counts[name] = None
        else:
            counts[name] = (int(transactions), int(scans))
    return counts


def _scenario(stack, env, readers: int, seconds: float, logs: Path, at=None) -> tuple:
    """Requests over ``seconds`` after a 1 s warm-up, and what each server ran meanwhile.

    The servers' counts cover gunicorn's whole life (start-up and warm-up too): a backend reports
    its statistics when idle for a while or when it exits, so only counting across the exit of
    every backend is exact.
    """
    before = _server_counts(stack)
    web = Gunicorn(_with_readers(env, stack, readers), logs / f"gunicorn-{readers}.log")
    try:
        _load(web.port, 1.0)  # warm-up: connections, the probers' first rounds, caches
        samples = _load(web.port, seconds, at=at)
    finally:
        web.stop()
    time.sleep(0.5)  # exited backends have flushed their statistics
    after = _server_counts(stack)
    ran = {}
    for name, now in after.items():
        then = before[name]
        ran[name] = None if now is None or then is None else (now[0] - then[0], now[1] - then[1])
    return samples, ran


def _router_overhead(env: dict[str, str], quick: bool) -> dict:
    done = subprocess.run(
        [_python(), "-c", OVERHEAD],
        cwd=REPO,
        env={**env, "BENCH_CALLS": str(20_000 if quick else 200_000)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"router overhead measurement failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(*, quick: bool) -> dict:
    from bench.results import RESULTS_DIR
    from stack import Stack
    from stack.postgres import postmaster

    seconds = 4.0 if quick else 15.0
    root = RESULTS_DIR / "replicas-stack"
    if (root / "stack.json").exists():
        Stack.load(root).stop()
    shutil.rmtree(root, ignore_errors=True)
    stack = Stack(root, replicas=2, database=DATABASE)
    began = time.monotonic()
    try:
        stack.start(["postgres"])
        stack.wait_replicas_caught_up()
        env = _base_env(stack, root)
        _manage(env, "migrate", "-v", "0")
        _manage(env, "seed_demo", "--crowd", "60" if quick else "300")
        stack.wait_replicas_caught_up()
        _log(f"stack, schema and demo content ready in {time.monotonic() - began:.1f} s")

        runs = 1 if quick else 3
        figures: dict = {
            "seconds_per_run": seconds,
            "runs_per_reader_count": runs,
            "clients": CLIENTS,
            "gunicorn": " ".join(GUNICORN),
        }
        pooled: dict[int, list] = {0: [], 1: [], 2: []}
        rates: dict[int, list[float]] = {0: [], 1: [], 2: []}
        share = {name: [0, 0] for name in ("writer", "replica_1", "replica_2")}
        for _ in range(runs):  # interleaved, so drift on a shared machine hits each count alike
            for readers in (0, 1, 2):
                samples, ran = _scenario(stack, env, readers, seconds, stack.logs)
                pooled[readers] += samples
                rates[readers].append(round(len(samples) / seconds, 1))
                _log(f"{readers} readers: {_figures(samples, seconds)} (transactions, scans) {ran}")
                if readers == 2:
                    for name, counts in ran.items():
                        share[name][0] += counts[0]
                        share[name][1] += counts[1]
        for readers, samples in pooled.items():
            figures[f"readers_{readers}"] = {
                **_figures(samples, seconds * runs),
                "throughput_rps_runs": rates[readers],
            }
        for key, index in (("read_share", 1), ("read_share_transactions", 0)):
            on_readers = share["replica_1"][index] + share["replica_2"][index]
            figures[key] = round(on_readers / max(1, on_readers + share["writer"][index]), 4)
        figures["servers_2_readers"] = {
            name: {"transactions": counts[0], "table_scans": counts[1]}
            for name, counts in share.items()
        }

        kill_seconds = seconds * 1.5
        killed_at: list[float] = []

        def kill_replica_1() -> None:
            master = postmaster(stack.replica_dirs[0])
            assert master is not None, "replica 1 is not running"
            killed_at.append(time.monotonic())
            os.kill(master.pid, signal.SIGKILL)

        samples, _ = _scenario(
            stack, env, 2, kill_seconds, stack.logs, at=(kill_seconds / 3, kill_replica_1)
        )
        before = [latency for start, latency, _ in samples if start < killed_at[0]]
        during = [latency for start, latency, _ in samples if start >= killed_at[0]]
        kill = _figures(samples, kill_seconds)
        kill["p99_ms_before_kill"] = round(1000 * _percentile(before, 0.99), 1)
        kill["p99_ms_during_kill"] = round(1000 * _percentile(during, 0.99), 1)
        kill["max_ms_during_kill"] = round(1000 * max(during), 1) if during else None
        figures["kill"] = kill
        figures["failed_requests_during_kill"] = kill["failed_requests"]
        figures["p99_ms_during_kill"] = kill["p99_ms_during_kill"]
        _log(f"kill -9 of replica 1 under load: {kill}")
        stack.start(["postgres"])  # brings the killed replica back
        stack.wait_replicas_caught_up()

        overhead = _router_overhead(_with_readers(env, stack, 2), quick)
        figures["router_overhead_us"] = round(
            overhead["in_request_us"] - overhead["baseline_us"], 3
        )
        figures["router"] = {key: round(value, 3) for key, value in overhead.items()}
        _log(f"router: {figures['router']}")
        figures["elapsed_s"] = round(time.monotonic() - began, 1)
        return figures
    finally:
        stack.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv)))
