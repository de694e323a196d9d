"""`Stack`: pinsite's real local services (PostgreSQL + replicas, Redis, S3) under one folder.

Everything lives under `root`: data, logs and stack.json, the state file through which a
separate process (`python -m stack down`) finds and stops exactly what was started.

Two S3 servers: moto (in memory, starts in a second: the test harness and the benchmarks) and
Ceph RGW with its objects on disk (`s3="rgw"`, what `make stack` runs). With `durable=True` Redis
keeps an append-only file. PostgreSQL always keeps its data. So a durable stack with RGW loses
nothing when it is stopped and started again, or when one of its servers is killed and
`start` runs again: it resumes the data under root.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stack.errors import StackError
from stack.postgres import PG_BIN, PostgresCluster, postmaster
from stack.processes import ProcessId, free_ports, port_free, spawn, stop_groups
from stack.redis_server import RedisServer
from stack.s3_server import S3Server, moto_command

if TYPE_CHECKING:
    from stack.rgw import RadosGateway

SERVICES = ("postgres", "redis", "s3")
S3_SERVERS = ("moto", "rgw")
# moto accepts any key; RGW's user is made with these. Fixed ones keep
# `eval $(python -m stack env)` valid across restarts.
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "pinsite-local",
    "AWS_SECRET_ACCESS_KEY": "pinsite-local-secret",
    "AWS_S3_REGION_NAME": "us-east-1",
}
# Debian's `chromium` package; the browser tests drive it with Playwright.
CHROMIUM = Path("/usr/bin/chromium")


def _ensure_binaries(services: Iterable[str], s3: str) -> None:
    if "s3" in services and s3 == "moto":
        moto_command()  # raises with the pip command when moto is missing
    if "s3" in services and s3 == "rgw":
        from stack.rgw import ensure_binaries  # rgw imports this module

        ensure_binaries()
    missing = []
    if "postgres" in services and not (PG_BIN / "initdb").exists():
        missing.append("postgresql-15")
    if "redis" in services and not shutil.which("redis-server"):
        missing.append("redis-server")
    apt_install(missing)


def apt_install(packages: Sequence[str], *, recommends: bool = True) -> None:
    """Install missing Debian packages with apt-get (root only; StackError says what to run).

    `recommends=False` skips the packages' Recommends (ceph's pull in ~50 more we do not run).
    """
    if not packages:
        return
    if os.geteuid() != 0:
        raise StackError(f"missing system packages: apt-get install {' '.join(packages)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q"]
    if not recommends:
        install.append("--no-install-recommends")
    for cmd in (["apt-get", "update", "-q"], [*install, *packages]):
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            raise StackError(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")


def chromium_ensure() -> Path:
    """Debian's Chromium for the browser tests, apt-installed when missing (as root)."""
    if not CHROMIUM.exists():
        apt_install(["chromium"])
    if not CHROMIUM.exists():
        raise StackError(f"the chromium package did not install {CHROMIUM}")
    return CHROMIUM


class Stack:
    def __init__(
        self,
        root: Path,
        *,
        pg_port: int | None = None,
        replicas: int = 2,
        redis_port: int | None = None,
        s3_port: int | None = None,
        bucket: str = "pinsite-media",
        database: str = "pinsite",
        s3: str = "moto",
        durable: bool = False,
    ) -> None:
        if s3 not in S3_SERVERS:
            raise StackError(f"unknown S3 server {s3!r}: choose from {S3_SERVERS}")
        self.root = Path(root).absolute()
        self.s3 = s3
        self.durable = durable
        self.state_file = self.root / "stack.json"
        self.logs = self.root / "logs"
        self.bucket = bucket
        self.database = database
        self._state: dict[str, Any] = {}
        if self.state_file.exists():
            self._state = json.loads(self.state_file.read_text())
        recorded: dict[str, Any] = self._state.get("ports", {})
        self._requested = {"postgres": pg_port, "redis": redis_port, "s3": s3_port}
        self.ports = {name: port or recorded.get(name) for name, port in self._requested.items()}
        self.replica_ports: list[int] = recorded.get("replicas", [])[:replicas]
        self.primary_dir = self.root / "pg" / "primary"
        self.replica_dirs = [self.root / "pg" / f"replica{i}" for i in range(1, replicas + 1)]

    @classmethod
    def load(cls, root: Path) -> Stack:
        """Re-open a stack from root/stack.json, e.g. to stop it from another process."""
        state_file = Path(root) / "stack.json"
        if not state_file.exists():
            raise StackError(f"no stack state at {state_file}: nothing was started there")
        return cls(root, **json.loads(state_file.read_text())["options"])

    def _postgres(self) -> PostgresCluster:
        return PostgresCluster(
            self.root / "pg", self.logs, self.ports["postgres"] or 0, self.replica_ports
        )

    def _redis(self) -> RedisServer:
        return RedisServer(
            self.root / "redis", self.logs / "redis.log", self.ports["redis"] or 0, self.durable
        )

    def _gateway(self) -> RadosGateway:
        """The persistent Ceph RGW under root/s3, holding the daemons recorded in stack.json."""
        from stack.rgw import RadosGateway  # rgw imports this module

        gateway = RadosGateway(
            self.root / "s3",
            port=self.ports["s3"] or 0,
            tls=False,
            persistent=True,
            access_key=S3_ENV["AWS_ACCESS_KEY_ID"],
            secret_key=S3_ENV["AWS_SECRET_ACCESS_KEY"],
        )
        recorded = self._state.get("s3_rgw") or {}
        gateway.adopt(
            {name: proc for name, data in recorded.items() if (proc := ProcessId.from_json(data))}
        )
        return gateway

    def _s3_process(self) -> ProcessId | None:
        """The S3 server's process: moto's, or radosgw's for RGW."""
        if self._state.get("s3_server", "moto") == "rgw":
            return ProcessId.from_json((self._state.get("s3_rgw") or {}).get("radosgw"))
        return ProcessId.from_json(self._state.get("s3"))

    def _s3(self) -> S3Server:
        return S3Server(self.logs / "s3.log", self.ports["s3"] or 0, self.bucket)

    def _alive(self, service: str) -> bool:
        if service == "postgres":
            return postmaster(self.primary_dir) is not None
        if service == "redis":
            return self._redis().process() is not None
        if self._state.get("s3_server", "moto") == "rgw":
            daemons = [ProcessId.from_json(d) for d in (self._state.get("s3_rgw") or {}).values()]
            return len(daemons) == 3 and all(proc and proc.alive() for proc in daemons)
        s3 = ProcessId.from_json(self._state.get("s3"))
        return s3 is not None and s3.alive()

    def _prepare_root(self, services: Sequence[str]) -> None:
        """Create root; when we are root, let the postgres user reach the data under it."""
        created = [folder for folder in [self.root, *self.root.parents] if not folder.exists()]
        self.logs.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0 or "postgres" not in services:
            return  # postgres runs as us and can enter whatever we can
        temp = Path(tempfile.gettempdir()).resolve()
        postgres_uid = pwd.getpwnam("postgres").pw_uid
        for folder in [self.root.resolve(), *self.root.resolve().parents]:
            info = folder.stat()
            if info.st_mode & 0o001 or info.st_uid == postgres_uid:
                continue
            if folder in created:
                folder.chmod(0o755)  # mkdir's umask may have shut the postgres user out
            elif temp in folder.parents and info.st_uid == 0:
                # Our own temp folders (mkdtemp, pytest's) are 0700: allow passing through
                # to the data, not listing.
                folder.chmod(info.st_mode | 0o011)
            else:
                raise StackError(
                    f"the postgres user cannot enter {folder} (mode {oct(info.st_mode & 0o777)}):"
                    " choose a root below folders that others may traverse (o+x)"
                )

    def _assign_ports(self, services: Sequence[str]) -> None:
        for service in services:
            old, requested = self._state.get("ports", {}).get(service), self._requested[service]
            has_data = service == "postgres" and (self.primary_dir / "PG_VERSION").exists()
            if old and requested not in (None, old) and (has_data or self._alive(service)):
                raise StackError(
                    f"{service} under {self.root} already uses port {old}: stop the stack "
                    f"(and for postgres remove {self.root / 'pg'}) before changing it"
                )
        wanted = [service for service in services if not self.ports[service]]
        if "postgres" in services:
            wanted += ["replica"] * (len(self.replica_dirs) - len(self.replica_ports))
        for service, port in zip(wanted, free_ports(len(wanted)), strict=True):
            if service == "replica":
                self.replica_ports.append(port)
            else:
                self.ports[service] = port

    def start(self, services: Sequence[str] = SERVICES) -> None:
        """Start the given services; those already running under root are left alone.

        On failure, whatever this call launched is stopped again before StackError is raised.
        """
        unknown = set(services) - set(SERVICES)
        if unknown:
            raise StackError(f"unknown services {sorted(unknown)}: choose from {SERVICES}")
        running = self._state.get("s3_server", "moto")
        if "s3" in services and running != self.s3 and self._alive("s3"):
            raise StackError(
                f"{running} serves S3 under {self.root}: stop the stack before switching to {self.s3}"
            )
        _ensure_binaries(services, self.s3)
        self._prepare_root(services)
        self._assign_ports(services)
        launched = [service for service in services if not self._alive(service)]
        wanted = [self.ports[service] for service in launched]
        if "postgres" in services:
            replicas = zip(self.replica_dirs, self.replica_ports, strict=False)
            wanted += [port for data_dir, port in replicas if postmaster(data_dir) is None]
        taken = [port for port in wanted if port and not port_free(port)]
        if taken:  # else redis, say, would only fail after the full wait for its PING
            raise StackError(f"ports {taken} on 127.0.0.1 are taken by other programs")
        rgw = "s3" in launched and self.s3 == "rgw"
        gateway_up = None
        try:
            # moto takes ~1 s to import, RGW ~5 s to resume, and redis starts in the
            # background: all come up while PostgreSQL initialises.
            with ThreadPoolExecutor(max_workers=1) as background:
                if rgw:
                    self._state["s3_server"] = "rgw"
                    self._state["s3"] = None
                    gateway_up = background.submit(self._gateway_start, self._gateway())
                if "s3" in launched and not rgw:
                    self._state["s3_server"] = "moto"
                    self._state["s3"] = self._s3().launch().to_json()
                    self._save()
                if "redis" in launched:
                    self._redis().launch()
                if "postgres" in services:  # also restarts dead replicas under a live primary
                    self._postgres().start(self.database)
                if "redis" in launched:
                    self._state["redis"] = self._redis().wait().to_json()
                if "s3" in launched and not rgw:
                    launched_s3 = ProcessId.from_json(self._state["s3"])
                    assert launched_s3 is not None  # recorded just above
                    self._s3().wait(launched_s3)
                if gateway_up is not None:
                    self._state["s3_rgw"] = gateway_up.result()
        except BaseException:
            # The executor has waited for the gateway: if it came up, stop it too.
            if gateway_up is not None and gateway_up.done() and not gateway_up.exception():
                self._state["s3_rgw"] = gateway_up.result()
            self._stop_services(launched)
            raise
        self._state["services"] = sorted({*self._state.get("services", []), *services})
        self._save()

    @staticmethod
    def _gateway_start(gateway: RadosGateway) -> dict[str, dict[str, int]]:
        """Resume (or on first use create) the RGW cluster and return its daemons to record.

        Stops whatever is left of a previous run first (e.g. the monitor and the OSD after
        radosgw alone was killed). Runs in a thread; a failed start stops what it started.
        """
        gateway.stop()  # persistent: stops the recorded daemons, keeps the data
        gateway.start()
        return {name: proc.to_json() for name, proc in gateway.processes().items()}

    def start_process(self, name: str, argv: list[str], env: dict[str, str], cwd: Path) -> int:
        """Start an app process in its own process group, logging to root/logs/<name>.log.

        If a process of that name started here is still alive, returns its pid instead.
        """
        if not re.fullmatch(r"[A-Za-z0-9][\w.-]*", name):
            raise StackError(f"process name {name!r} must be usable as a file name")
        apps: dict[str, Any] = self._state.setdefault("apps", {})
        existing = ProcessId.from_json(apps.get(name))
        if existing is not None and existing.alive():
            return existing.pid
        self.logs.mkdir(parents=True, exist_ok=True)
        proc = spawn(argv, self.logs / f"{name}.log", env, cwd)
        apps[name] = {**proc.to_json(), "argv": argv, "cwd": str(cwd)}
        self._save()
        return proc.pid

    def app_argv(self, name: str) -> list[str] | None:
        """The command line of app process `name` if it is alive, else None."""
        data = self._state.get("apps", {}).get(name)
        proc = ProcessId.from_json(data)
        return data["argv"] if proc is not None and proc.alive() else None

    def env(self) -> dict[str, str]:
        """The settings a deployment reads, for the services that were started."""
        services = self._state.get("services", [])
        env: dict[str, str] = {}
        if "postgres" in services:
            url = "postgres://postgres@127.0.0.1:{}/" + self.database
            env["DATABASE_URL"] = url.format(self.ports["postgres"])
            if self.replica_ports:
                env["DATABASE_REPLICA_URLS"] = ",".join(map(url.format, self.replica_ports))
        if "redis" in services:
            env["REDIS_URL"] = f"redis://127.0.0.1:{self.ports['redis']}/0"
            env["CELERY_BROKER_URL"] = f"redis://127.0.0.1:{self.ports['redis']}/1"
        if "s3" in services:
            env["S3_ENDPOINT_URL"] = f"http://127.0.0.1:{self.ports['s3']}"
            env["AWS_STORAGE_BUCKET_NAME"] = self.bucket
            env.update(S3_ENV)
        return env

    def psql(self, sql: str, port: int | None = None, db: str = "postgres") -> str:
        """Run SQL with `psql -At` on the primary (or the given port); returns stdout."""
        return self._postgres().psql(sql, port, db)

    def wait_replicas_caught_up(self, timeout: float = 10) -> None:
        """Block until every replica has replayed the primary's current WAL position."""
        self._postgres().wait_caught_up(timeout)

    def status(self) -> list[tuple[str, bool, int | None, int | None]]:
        """(name, alive, port, pid) of each service and app recorded under root."""
        found: list[tuple[str, ProcessId | None, int | None]] = []
        if self.ports["postgres"]:
            found.append(("postgres", postmaster(self.primary_dir), self.ports["postgres"]))
            for data_dir, port in zip(self.replica_dirs, self.replica_ports, strict=False):
                found.append((f"postgres {data_dir.name}", postmaster(data_dir), port))
        if self.ports["redis"]:
            found.append(("redis", self._redis().process(), self.ports["redis"]))
        if self.ports["s3"]:
            found.append((f"s3 ({self.s3})", self._s3_process(), self.ports["s3"]))
        for name, data in self._state.get("apps", {}).items():
            found.append((f"app {name}", ProcessId.from_json(data), None))
        return [
            (name, bool(proc and proc.alive()), port, proc.pid if proc and proc.alive() else None)
            for name, proc, port in found
        ]

    def stop(self) -> None:
        """Stop app processes, then s3, redis and postgres; safe to call repeatedly."""
        apps = [ProcessId.from_json(data) for data in self._state.get("apps", {}).values()]
        stop_groups([proc for proc in apps if proc is not None])
        self._state["apps"] = {}
        self._stop_services(SERVICES)
        self._state["services"] = []
        if self.root.exists():
            self._save()

    def _stop_services(self, services: Iterable[str]) -> None:
        s3 = ProcessId.from_json(self._state.get("s3"))
        if "s3" in services and s3 is not None:
            stop_groups([s3])
            self._state["s3"] = None
        if "s3" in services and self._state.get("s3_rgw"):
            self._gateway().stop()  # by recorded pid; the data stays under root/s3
            self._state["s3_rgw"] = None
        redis = self._redis().process()
        if "redis" in services and redis is not None:
            stop_groups([redis])  # redis made itself a session leader when it daemonized
            self._state["redis"] = None
        if "postgres" in services:
            self._postgres().stop()

    def _save(self) -> None:
        self._state.update(
            options={
                "pg_port": self.ports["postgres"],
                "replicas": len(self.replica_ports),
                "redis_port": self.ports["redis"],
                "s3_port": self.ports["s3"],
                "bucket": self.bucket,
                "database": self.database,
                "s3": self.s3,
                "durable": self.durable,
            },
            ports={**self.ports, "replicas": self.replica_ports},
            env=self.env(),
        )
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._state, indent=2) + "\n")
        tmp.replace(self.state_file)
