"""A throwaway redis-server: no persistence, loopback only."""

from __future__ import annotations

import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from stack.errors import StackError
from stack.processes import ProcessId, from_pidfile, log_tail, wait_until


def ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class RedisServer:
    folder: Path
    log: Path
    port: int

    @property
    def pidfile(self) -> Path:
        return self.folder / "redis.pid"

    def process(self) -> ProcessId | None:
        return from_pidfile(self.pidfile, ("redis-server",))

    def launch(self) -> None:
        """Returns as soon as redis has daemonized; `wait` confirms it serves."""
        self.folder.mkdir(exist_ok=True)
        self.pidfile.unlink(missing_ok=True)
        options = {
            "port": self.port,
            "bind": "127.0.0.1",
            "save": "",  # no snapshots: the data is disposable
            "appendonly": "no",
            "daemonize": "yes",
            "pidfile": self.pidfile,
            "logfile": self.log,
            "dir": self.folder,
        }
        argv = [shutil.which("redis-server") or "redis-server"]
        argv += [arg for key, value in options.items() for arg in (f"--{key}", str(value))]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise StackError(f"redis-server refused to start: {done.stdout}{done.stderr}")

    def wait(self, timeout: float = 15.0) -> ProcessId:
        if not wait_until(lambda: ping(self.port) and self.pidfile.exists(), timeout):
            raise StackError(f"redis did not answer PING on port {self.port}\n{log_tail(self.log)}")
        proc = self.process()
        if proc is None:
            raise StackError(f"redis pid file {self.pidfile} names no live process")
        return proc
