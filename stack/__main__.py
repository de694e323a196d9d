"""`python -m stack up|down|status|env`: the developer's front door to the local services.

`up --app` also migrates and starts a celery worker, celery beat and gunicorn from the
repository root, with the services' settings added to the environment.

`up` keeps data as the real services do: Redis with an append-only file and, for S3, Ceph RGW
with its objects on disk (`--s3 moto`, or STACK_S3=moto, runs moto in memory instead). Running
`up` again after `down`, or after one of the servers was killed, resumes the same data.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from stack.errors import StackError
from stack.processes import free_ports
from stack.stack import S3_SERVERS, SERVICES, Stack

REPO = Path(__file__).resolve().parent.parent


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m stack", description=__doc__)
    parser.add_argument("command", choices=("up", "down", "status", "env"))
    parser.add_argument("--root", type=Path, default=REPO / "var" / "stack")
    for port_flag in ("--pg-port", "--redis-port", "--s3-port"):
        parser.add_argument(port_flag, type=int, help="default: a free port")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--services", default=",".join(SERVICES), help="default: %(default)s")
    parser.add_argument(
        "--s3",
        choices=S3_SERVERS,
        default=os.environ.get("STACK_S3") or "rgw",
        help="rgw keeps objects on disk, moto in memory (default: $STACK_S3 or %(default)s)",
    )
    parser.add_argument("--app", action="store_true", help="also start celery and gunicorn")
    parser.add_argument("--web-port", type=int, help="gunicorn's port (default: a free one)")
    return parser


def _start_apps(st: Stack, web_port: int | None) -> str:
    venv_python = REPO / ".venv" / "bin" / "python"
    python = str(venv_python) if venv_python.exists() else sys.executable
    env = {**os.environ, **st.env()}
    migrate = [python, "manage.py", "migrate", "--noinput"]
    if subprocess.run(migrate, cwd=REPO, env=env, check=False).returncode != 0:
        raise StackError("manage.py migrate failed (its output is above)")
    # Hashed, compressed static files for gunicorn (whitenoise serves them; DEBUG is off).
    collect = [python, "manage.py", "collectstatic", "--noinput", "-v", "0"]
    if subprocess.run(collect, cwd=REPO, env=env, check=False).returncode != 0:
        raise StackError("manage.py collectstatic failed (its output is above)")
    # The bucket as production has it: private, versioned, lifecycle rules, TLS-only policy.
    provision = [python, "manage.py", "s3_provision", "--iam-dir", str(st.root / "iam")]
    if st.s3 == "rgw":  # what Ceph RGW 16.2 lacks (see media/provisioning.py's SKIPPABLE)
        provision += ["--skip", "encryption", "--skip", "public-access-block"]
    if (
        env.get("AWS_STORAGE_BUCKET_NAME")
        and subprocess.run(provision, cwd=REPO, env=env, check=False).returncode
    ):
        raise StackError("manage.py s3_provision failed (its output is above)")
    # Demo content makes the stack look alive; its renditions are made by the worker below.
    seed = [python, "manage.py", "seed_demo"]
    if subprocess.run(seed, cwd=REPO, env=env, check=False).returncode != 0:
        raise StackError("manage.py seed_demo failed (its output is above)")
    celery = [python, "-m", "celery", "-A", "pinsite"]
    # No -Q: the worker consumes every queue settings.CELERY_TASK_QUEUES names.
    worker = [*celery, "worker", "--loglevel", "INFO"]
    st.start_process("celery-worker", worker, env, REPO)
    beat = [*celery, "beat", "--schedule", str(st.root / "celerybeat-schedule")]
    st.start_process("celery-beat", beat, env, REPO)
    if running := st.app_argv("web"):  # a live gunicorn keeps its port
        bind = running[running.index("-b") + 1]
    else:
        bind = f"127.0.0.1:{web_port or free_ports(1)[0]}"
    # gunicorn's control socket defaults to one path in $HOME, shared by every stack.
    web = [python, "-m", "gunicorn", "pinsite.wsgi:application", "-b", bind]
    web += ["--access-logfile", "-", "--control-socket", str(st.root / "gunicorn.ctl")]
    st.start_process("web", web, env, REPO)
    return f"http://{bind}/"


def _run(args: argparse.Namespace) -> int:
    if args.command == "up":
        services = [s.strip() for s in args.services.split(",") if s.strip()]
        st = Stack(
            args.root,
            pg_port=args.pg_port,
            replicas=args.replicas,
            redis_port=args.redis_port,
            s3_port=args.s3_port,
            s3=args.s3,
            durable=True,
        )
        began = time.monotonic()
        st.start(services)
        print("\n".join(f"{key}={value}" for key, value in st.env().items()))
        print(f"{', '.join(services)} up in {time.monotonic() - began:.2f} s under {st.root}")
        if args.app:
            print(f"site: {_start_apps(st, args.web_port)}  (logs in {st.logs})")
        return 0
    if not (args.root / "stack.json").exists():
        print(f"no stack under {args.root}", file=sys.stderr)
        return 0 if args.command == "down" else 1
    st = Stack.load(args.root)
    if args.command == "down":
        st.stop()
        print(f"stopped everything under {st.root}")
    elif args.command == "env":
        print("\n".join(f"export {k}={shlex.quote(v)}" for k, v in st.env().items()))
    else:
        for name, alive, port, pid in st.status():
            state = "alive" if alive else "dead"
            print(f"{name:<20} {state:<6} port {port or '-':<6} pid {pid or '-'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return _run(_parser().parse_args(argv))
    except StackError as exc:
        print(f"stack: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
