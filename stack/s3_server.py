"""moto's S3 server, run as a subprocess from the interpreter running us."""

from __future__ import annotations

import http.client
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

from stack.errors import StackError
from stack.processes import ProcessId, log_tail, spawn, wait_until


def moto_command() -> list[str]:
    # find_spec does not import moto, which takes ~1 s.
    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("flask") is None:
        raise StackError(
            f'moto\'s S3 server is not installed for {sys.executable}: pip install "moto[server]"'
        )
    script = Path(sys.executable).parent / "moto_server"
    return [str(script)] if script.exists() else [sys.executable, "-m", "moto.server"]


def _request(port: int, method: str, path: str) -> int:
    """The HTTP status, or 0 when nothing answers yet."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(method, path, headers={"Content-Length": "0"})
        return conn.getresponse().status
    except OSError:
        return 0
    finally:
        conn.close()


@dataclass
class S3Server:
    log: Path
    port: int
    bucket: str

    def launch(self) -> ProcessId:
        return spawn([*moto_command(), "-H", "127.0.0.1", "-p", str(self.port)], self.log)

    def wait(self, proc: ProcessId, timeout: float = 30.0) -> None:
        """Wait for HTTP, then create the bucket (path-style; moto accepts it unsigned)."""
        # Stops waiting early if moto dies, which the check after it reports.
        answered = wait_until(
            lambda: not proc.alive() or _request(self.port, "GET", "/") == 200, timeout, 0.05
        )
        if not answered or not proc.alive():
            raise StackError(f"moto did not serve HTTP on port {self.port}\n{log_tail(self.log)}")
        status = _request(self.port, "PUT", f"/{self.bucket}")
        if status not in (200, 409):  # 409: the bucket is already ours
            raise StackError(f"creating bucket {self.bucket!r} on moto returned HTTP {status}")
