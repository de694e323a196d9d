"""The stack against real PostgreSQL, redis-server and moto processes (no Django)."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from stack import Stack
from stack.postgres import postmaster

pytestmark = pytest.mark.stack


@pytest.fixture
def root() -> Iterator[Path]:
    # Not pytest's tmp_path: the stack opens its parent folders to the postgres user, and any
    # other pytest run starting meanwhile shuts /tmp/pytest-of-<user> to 0700 again.
    folder = Path(tempfile.mkdtemp(prefix="pinsite-stack-test-"))
    yield folder
    if (folder / "stack.json").exists():
        Stack.load(folder).stop()  # a failed test must not leave servers behind
    shutil.rmtree(folder, ignore_errors=True)


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return True
    return state in "ZX"  # a zombie is dead; only its parent's wait() is missing


def _running(st: Stack) -> tuple[list[int], list[int]]:
    rows = st.status()
    assert rows and all(alive for _, alive, _, _ in rows), rows
    return [pid for *_, pid in rows if pid], [port for _, _, port, _ in rows if port]


def _port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def _assert_all_gone(pids: list[int], ports: list[int]) -> None:
    assert [pid for pid in pids if not _gone(pid)] == []
    assert [port for port in ports if _port_open(port)] == []


def test_services_serve_and_stop_leaves_nothing(root: Path) -> None:
    st = Stack(root)
    st.start(services=("postgres", "redis", "s3"))
    pids, ports = _running(st)
    env = st.env()
    assert env["DATABASE_URL"] == f"postgres://postgres@127.0.0.1:{st.ports['postgres']}/pinsite"
    assert len(env["DATABASE_REPLICA_URLS"].split(",")) == 2

    st.psql("CREATE TABLE note (body text); INSERT INTO note VALUES ('replicated')", db="pinsite")
    st.wait_replicas_caught_up()
    for port in st.replica_ports:
        assert st.psql("SELECT body FROM note", port=port, db="pinsite") == "replicated\n"

    with socket.create_connection(("127.0.0.1", st.ports["redis"] or 0), timeout=2) as sock:
        sock.sendall(b"PING\r\n")
        assert sock.recv(16) == b"+PONG\r\n"

    conn = http.client.HTTPConnection("127.0.0.1", st.ports["s3"] or 0, timeout=5)
    conn.request("GET", f"/{env['AWS_STORAGE_BUCKET_NAME']}")
    assert conn.getresponse().status == 200
    conn.close()

    st.stop()
    _assert_all_gone(pids, ports)
    st.stop()  # idempotent
    assert st.env() == {}


def test_restart_is_idempotent_and_load_stops_everything(root: Path) -> None:
    st = Stack(root)
    st.start()
    # An app whose leader has a child in its process group, as celery and gunicorn have.
    app_pid = st.start_process(
        "sleeper", ["sh", "-c", "sleep 60 & echo $! > child.pid; wait"], dict(os.environ), root
    )
    pids, ports = _running(st)

    # A replica killed outright is restarted by the next start; nothing else changes.
    killed = postmaster(st.replica_dirs[1])
    assert killed is not None
    os.kill(killed.pid, signal.SIGKILL)
    again = Stack(root)
    again.start()
    assert again.env() == st.env()
    new_pids, _ = _running(again)
    assert set(pids) - set(new_pids) == {killed.pid}
    again.wait_replicas_caught_up()

    Stack.load(root).stop()
    child_pid = int((root / "child.pid").read_text())
    _assert_all_gone([*new_pids, app_pid, child_pid], ports)
    assert list((root / "logs").glob("*.log"))
