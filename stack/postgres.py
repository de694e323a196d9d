"""A PostgreSQL 15 primary with streaming replicas, all in one folder.

Tuned for a local or test stack: fsync and full-page writes are off (a crash loses the
cluster, which is disposable), but synchronous_commit stays on: turning it off raised
replica lag from well under 1 ms to ~200 ms here.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from stack.errors import StackError
from stack.processes import (
    ProcessId,
    children,
    from_pidfile,
    log_tail,
    signal_all,
    wait_reaped,
    wait_until,
)

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PRIMARY_CONF = """
listen_addresses = '127.0.0.1'
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
hot_standby = on
hot_standby_feedback = on
wal_keep_size = '256MB'
fsync = off
full_page_writes = off
"""


def as_postgres(argv: Sequence[str]) -> list[str]:
    """`postgres` refuses to run as root, so root drops to the Debian postgres user."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else list(argv)


def give_to_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(path, user.pw_uid, user.pw_gid)


def run_all(commands: Sequence[Sequence[str]]) -> None:
    """Run commands in parallel; raise with the output of those that failed."""
    procs = [
        (cmd, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        for cmd in commands
    ]
    outputs = [(cmd, proc, proc.communicate()[0]) for cmd, proc in procs]
    failures = [
        f"{' '.join(cmd)} exited {proc.returncode}:\n{out.strip()}"
        for cmd, proc, out in outputs
        if proc.returncode != 0
    ]
    if failures:
        raise StackError("\n".join(failures))


def postmaster(data_dir: Path) -> ProcessId | None:
    return from_pidfile(data_dir / "postmaster.pid", ("postgres", "postmaster"))


def _kill_if_alive(pm: ProcessId) -> None:
    """SIGKILL a postmaster that outlived pg_ctl stop, with its backends.

    Each backend runs in its own session, so killpg would miss them.
    """
    if pm.alive():
        signal_all([*children(pm.pid), pm.pid], signal.SIGKILL)
        wait_until(lambda: not pm.alive() and not children(pm.pid), 5.0)


class PostgresCluster:
    def __init__(self, folder: Path, logs: Path, port: int, replica_ports: Sequence[int]) -> None:
        self.folder = folder
        self.logs = logs
        self.port = port
        self.replica_ports = list(replica_ports)
        self.primary_dir = folder / "primary"
        self.replica_dirs = [folder / f"replica{i}" for i in range(1, len(replica_ports) + 1)]

    def _log(self, data_dir: Path) -> Path:
        return self.logs / f"postgres-{data_dir.name}.log"

    def start(self, database: str) -> None:
        """Initialise what is missing and start what is not running; keeps existing data."""
        self.folder.mkdir(exist_ok=True)
        give_to_postgres(self.folder)
        fresh = not (self.primary_dir / "PG_VERSION").exists()
        if fresh:
            self._init_primary()
        if postmaster(self.primary_dir) is None:
            self._pg_ctl_start([self.primary_dir])
        # Before the base backups, so the replicas need not replay it; FILE_COPY writes
        # ~8 MB less WAL than the default and was ~0.1 s faster here.
        name = database.replace("'", "''")
        create = f"SELECT format('CREATE DATABASE %I STRATEGY FILE_COPY', '{name}')"
        exists = f"SELECT FROM pg_database WHERE datname = '{name}'"
        self.psql(f"{create} WHERE NOT EXISTS ({exists})\\gexec")
        missing = [d for d in self.replica_dirs if fresh or not (d / "PG_VERSION").exists()]
        if missing:
            self._base_backup(missing)
        dead = [d for d in self.replica_dirs if postmaster(d) is None]
        if dead:
            self._pg_ctl_start(dead)

    def _init_primary(self) -> None:
        shutil.rmtree(self.primary_dir, ignore_errors=True)  # left by an interrupted init
        for old in self.replica_dirs:  # replicas of an older primary cannot follow a new one
            shutil.rmtree(old, ignore_errors=True)
        initdb = [str(PG_BIN / "initdb"), "-D", str(self.primary_dir), "-U", "postgres"]
        initdb += ["--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions"]
        run_all([as_postgres(initdb)])
        with open(self.primary_dir / "postgresql.conf", "a") as conf:
            conf.write(PRIMARY_CONF + f"port = {self.port}\n")
            conf.write(f"unix_socket_directories = '{self.primary_dir}'\n")

    def _base_backup(self, data_dirs: Sequence[Path]) -> None:
        slots = {d: "slot" + d.name.removeprefix("replica") for d in data_dirs}
        for data_dir in data_dirs:
            shutil.rmtree(data_dir, ignore_errors=True)
        # A slot left behind by a deleted replica folder would make `-C` fail.
        names = ", ".join(f"'{slot}'" for slot in slots.values())
        self.psql(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "  # noqa: S608
            f"WHERE slot_name IN ({names}) AND NOT active"
        )
        backup = [str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.port)]
        backup += ["-U", "postgres", "-R", "-X", "stream", "-C", "--checkpoint=fast", "--no-sync"]
        run_all([as_postgres([*backup, "-D", str(d), "-S", slot]) for d, slot in slots.items()])
        for data_dir in data_dirs:
            port = self.replica_ports[self.replica_dirs.index(data_dir)]
            # The copied postgresql.conf names the primary's port and socket folder.
            with open(data_dir / "postgresql.auto.conf", "a") as conf:
                conf.write(f"port = {port}\nunix_socket_directories = '{data_dir}'\n")

    def _pg_ctl_start(self, data_dirs: Sequence[Path]) -> None:
        """Start in parallel (in turn costs ~0.1 s each); failures carry the log tails."""
        for data_dir in data_dirs:
            # postgres refuses to start while the pid in a stale postmaster.pid exists, as a
            # postmaster killed with SIGKILL does, as a zombie, until init reaps it.
            with contextlib.suppress(OSError, ValueError):
                wait_reaped(int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0]))
            self._log(data_dir).touch()
            give_to_postgres(self._log(data_dir))
        pg_ctl = [str(PG_BIN / "pg_ctl"), "-w", "-t", "30"]
        try:
            run_all(
                [
                    as_postgres([*pg_ctl, "-D", str(d), "-l", str(self._log(d)), "start"])
                    for d in data_dirs
                ]
            )
        except StackError as exc:
            tails = "\n".join(log_tail(self._log(d)) for d in data_dirs)
            raise StackError(f"PostgreSQL did not start:\n{exc}\n{tails}") from None

    def stop(self) -> None:
        """Replicas first (so they do not chase a vanished primary), then the primary."""
        for group in (sorted(self.folder.glob("replica*")), [self.primary_dir]):
            running = {d: pm for d in group if (pm := postmaster(d)) is not None}
            signal_all([pm.pid for pm in running.values()], signal.SIGCONT)  # undo a SIGSTOP
            pg_ctl = [str(PG_BIN / "pg_ctl"), "-m", "fast", "-w", "-t", "10", "stop"]
            with contextlib.suppress(StackError):  # what did not stop is killed below
                run_all([as_postgres([*pg_ctl, "-D", str(d)]) for d in running])
            for pm in running.values():
                _kill_if_alive(pm)

    def psql(self, sql: str, port: int | None = None, db: str = "postgres") -> str:
        port = port or self.port
        env = {**os.environ, "PGCONNECT_TIMEOUT": os.environ.get("PGCONNECT_TIMEOUT", "5")}
        cmd = [str(PG_BIN / "psql"), "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"]
        cmd += ["-p", str(port), "-U", "postgres", "-d", db]
        try:
            done = subprocess.run(
                cmd, input=sql, capture_output=True, text=True, env=env, timeout=60, check=False
            )
        except subprocess.TimeoutExpired:
            raise StackError(f"psql on port {port} timed out") from None
        if done.returncode != 0:
            raise StackError(f"psql on port {port} failed: {done.stderr.strip()}")
        return done.stdout

    def wait_caught_up(self, timeout: float) -> None:
        target = self.psql("SELECT pg_current_wal_lsn()").strip()
        deadline = time.monotonic() + timeout
        for port in self.replica_ports:
            query = f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"
            while self.psql(query, port=port).strip() != "t":
                if time.monotonic() > deadline:
                    raise StackError(
                        f"replica on port {port} did not reach {target} in {timeout} s"
                    )
                time.sleep(0.01)
