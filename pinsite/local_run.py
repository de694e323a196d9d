"""`make run`: prepare the database, static files and demo content, then serve the site with a
task worker.

Runs on whatever the environment configures; with nothing set that is the embedded default
(SQLite, local media, Celery over the filesystem transport). It is safe to let others reach:
DEBUG is off, gunicorn serves the pages and whitenoise the collected, hashed static files.
`make dev` (or ``DEBUG=true make run``) runs Django's development server instead: the debug
page, static files from the app folders and a reload on every code change. ``HOST`` sets the
address to listen on (default 127.0.0.1); others reach the site only at the names listed in
``DJANGO_ALLOWED_HOSTS``. Ctrl-C stops everything it started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def _debug() -> bool:
    wanted = os.environ.get("DJANGO_DEBUG") or os.environ.get("DEBUG") or ""
    return wanted.strip().lower() in {"1", "true", "yes", "on"}


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def _pick_port() -> int:
    wanted = int(os.environ.get("PORT", "8000"))
    for port in range(wanted, wanted + 50):
        if _port_free(port):
            return port
    raise SystemExit(f"no free port in {wanted}-{wanted + 49}; set PORT")


def _demo_password(var_dir: Path) -> str:
    """What seed_demo set (DEMO_PASSWORD, else the one it made once in var/demo_password)."""
    if password := os.environ.get("DEMO_PASSWORD", ""):
        return password
    return (var_dir / "demo_password").read_text().strip()


def _manage(*args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=REPO, check=True)


def _spawn(argv: list[str], log: Path | None) -> subprocess.Popen:
    output = log.open("ab") if log else None
    return subprocess.Popen(
        argv,
        cwd=REPO,
        stdout=output,
        stderr=subprocess.STDOUT if output else None,
        start_new_session=True,  # its own process group, so stopping it stops its children too
    )


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the whole group may be gone already
        os.killpg(process.pid, signum)


def _stop(processes: list[subprocess.Popen], *, leaders: tuple[subprocess.Popen, ...] = ()) -> None:
    """Stop each process and its group. ``leaders`` get SIGTERM alone first: a Celery worker then
    finishes its current task and stops its own pool (a warm shutdown) instead of seeing its pool
    processes killed under it."""
    for process in processes:
        if process.poll() is None:
            if process in leaders:
                process.terminate()
            else:
                _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait()
        _signal_group(process, signal.SIGKILL)  # anything the process left behind in its group


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pinsite.settings")
    started = time.monotonic()
    debug = _debug()
    os.environ["DJANGO_DEBUG"] = "true" if debug else "false"
    _manage("migrate", "--noinput", "-v", "0")
    if not debug:
        _manage("collectstatic", "--noinput", "-v", "0")
    _manage("seed_demo", "--inline", "--crowd", "300")
    port = _pick_port()
    var_dir = Path(os.environ.get("PINSITE_VAR_DIR") or REPO / "var")
    log_dir = var_dir / "log"
    log_dir.mkdir(parents=True, exist_ok=True)

    worker = _spawn(
        [
            PYTHON,
            "-m",
            "celery",
            "-A",
            "pinsite",
            "worker",
            # Beat in the worker (one worker only): the sweepers and the daily tiering jobs run
            # here too. No -Q: every queue in settings.CELERY_TASK_QUEUES.
            "--beat",
            "--schedule",
            str(log_dir.parent / "celery" / "beat-schedule"),
            "--concurrency",
            "2",
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "INFO",
        ],
        log_dir / "worker.log",
    )
    host = os.environ.get("HOST", "127.0.0.1")
    if debug:
        web = _spawn([PYTHON, "manage.py", "runserver", f"{host}:{port}"], None)
    else:
        web = _spawn(
            [
                PYTHON,
                "-m",
                "gunicorn",
                "pinsite.wsgi:application",
                "--bind",
                f"{host}:{port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--access-logfile",
                str(log_dir / "access.log"),
                # gunicorn's control socket defaults to one path in $HOME, shared by every site.
                "--control-socket",
                str(log_dir / "gunicorn.ctl"),
            ],
            None,
        )
    processes = [web, worker]

    def stop_and_exit(signum, frame):
        _stop(processes, leaders=(worker,))
        raise SystemExit(0)

    signal.signal(signal.SIGINT, stop_and_exit)
    signal.signal(signal.SIGTERM, stop_and_exit)
    signal.signal(signal.SIGHUP, stop_and_exit)

    url = f"http://127.0.0.1:{port}/"
    for _ in range(200):
        if any(p.poll() is not None for p in processes):
            break
        try:
            with urllib.request.urlopen(url + "healthz", timeout=1) as response:  # noqa: S310
                if response.status == 200:
                    break
        except urllib.error.HTTPError:
            break  # it answers (a HOST outside DJANGO_ALLOWED_HOSTS gets 400 here)
        except OSError:
            time.sleep(0.1)
    else:
        print("pinsite: the web server did not answer in 20 s", file=sys.stderr)

    if any(p.poll() is not None for p in processes):
        print(f"pinsite: a process exited at start; see {log_dir / 'worker.log'}", file=sys.stderr)
        _stop(processes, leaders=(worker,))
        return 1

    print(
        f"\npinsite is running at {url}  (ready in {time.monotonic() - started:.1f} s)\n"
        f"  demo login: demo / {_demo_password(var_dir)}  (also staff: {url}admin/;"
        f" kept in {var_dir / 'demo_password'})\n"
        f"  task worker log: {log_dir / 'worker.log'}\n"
        + (
            "  debug mode: Django's debug page, reload on code changes (never expose this)\n"
            if debug
            else f"  DEBUG off; web access log: {log_dir / 'access.log'} (make dev: debug mode)\n"
        )
        + "  Ctrl-C stops the web server and the worker.\n",
        flush=True,
    )
    while all(p.poll() is None for p in processes):
        time.sleep(0.5)
    _stop(processes, leaders=(worker,))
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
