"""Detached processes: starting them, telling whether they live, stopping them, free ports.

A process is known by its pid *and* its kernel start time (field 22 of /proc/PID/stat):
`make stack-stop` may run after a reboot, when a recorded pid belongs to an unrelated
process, and we must never signal a process we did not start.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from stack.errors import StackError


def _stat(pid: int) -> list[str] | None:
    """Fields 3.. of /proc/PID/stat (after the command name, which may hold spaces)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None


@dataclass(frozen=True)
class ProcessId:
    pid: int
    started: int  # clock ticks after boot

    @classmethod
    def of(cls, pid: int) -> ProcessId | None:
        stat = _stat(pid)
        return None if stat is None else cls(pid, int(stat[19]))

    @classmethod
    def from_json(cls, data: Mapping[str, int] | None) -> ProcessId | None:
        return cls(int(data["pid"]), int(data["started"])) if data else None

    def to_json(self) -> dict[str, int]:
        return {"pid": self.pid, "started": self.started}

    def alive(self) -> bool:
        # Our own exited children stay zombies until waited for, and look alive to kill(0).
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, os.WNOHANG)
        stat = _stat(self.pid)
        return stat is not None and stat[0] not in "ZX" and int(stat[19]) == self.started


def from_pidfile(pidfile: Path, names: Sequence[str]) -> ProcessId | None:
    """The live process a daemon's pid file names, if it still runs one of `names`.

    After a crash or reboot the file is stale and its pid may belong to anyone by now.
    """
    try:
        pid = int(pidfile.read_text().split("\n", 1)[0])
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except (OSError, ValueError):
        return None
    found = ProcessId.of(pid) if comm in names else None
    return found if found is not None and found.alive() else None


def _live_pids(match: Callable[[list[str]], bool]) -> list[int]:
    stats = {int(p.name): _stat(int(p.name)) for p in Path("/proc").iterdir() if p.name.isdigit()}
    return [pid for pid, st in stats.items() if st and st[0] not in "ZX" and match(st)]


def group_members(leader: ProcessId) -> list[int]:
    """Live processes of the leader's process group that started no earlier than it.

    The leader may be gone while its children (celery's pool, gunicorn's workers) remain.
    """
    return _live_pids(lambda st: st[2] == str(leader.pid) and int(st[19]) >= leader.started)


def children(pid: int) -> list[int]:
    return _live_pids(lambda st: st[1] == str(pid))


def signal_all(pids: Sequence[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def wait_until(done: Callable[[], bool], timeout: float, interval: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


def wait_reaped(pid: int, timeout: float = 10.0) -> None:
    """Wait while pid is a zombie: init may take seconds to reap an orphan (~1.5 s here)."""
    wait_until(lambda: (stat := _stat(pid)) is None or stat[0] not in "ZX", timeout)


def stop_groups(leaders: Sequence[ProcessId], timeout: float = 10.0) -> None:
    """SIGTERM the leaders' whole process groups, SIGKILL whatever is left after `timeout`."""

    def remaining() -> list[int]:
        for leader in leaders:
            leader.alive()  # reaps a leader that is our own child
        return [pid for leader in leaders for pid in group_members(leader)]

    signal_all(remaining(), signal.SIGTERM)
    if not wait_until(lambda: not remaining(), timeout):
        signal_all(remaining(), signal.SIGKILL)
        wait_until(lambda: not remaining(), 5.0)


def spawn(
    argv: Sequence[str], log: Path, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> ProcessId:
    """Start argv in its own session, so a Ctrl-C in our terminal does not reach it."""
    with open(log, "ab") as out:
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        except OSError as exc:
            raise StackError(f"cannot run {argv[0]}: {exc}") from exc
    found = ProcessId.of(proc.pid)  # not yet waited for, so /proc/PID exists even if it exited
    assert found is not None
    return found


def free_ports(count: int) -> list[int]:
    """Ports the kernel hands out for port 0; all stay bound until all are picked."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        # As the servers themselves do, so that connections lingering in TIME_WAIT after
        # a stop do not count as taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def log_tail(log: Path, lines: int = 20) -> str:
    try:
        tail = log.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return f"(no log at {log})"
    return f"--- last lines of {log} ---\n" + "\n".join(tail)
