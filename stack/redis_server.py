"""A redis-server on loopback: throwaway by default, durable (append-only file) on request.

`make stack` runs it durable, as a deployment would: every write goes to the append-only file,
fsynced each second, so a stop, a crash or a SIGKILL loses at most the last second. The test
harness keeps it throwaway (no file at all), which is faster and all its tests need.
"""

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
    durable: bool = False

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
            # The append-only file alone is the durable copy; no RDB snapshots besides.
            "save": "",
            "appendonly": "yes" if self.durable else "no",
            "appendfsync": "everysec",
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
