"""Shared fixtures. The services themselves are started by stack.pytest_plugin."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from stack.pytest_plugin import current_stack, require_stack

REPO = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Create the test database on the primary, then wait until both replicas have it.

    Replicas get the test database by streaming; a test that reads a replica before replay has
    caught up would fail with 'database does not exist'.
    """
    stack = current_stack()
    if stack is not None:
        stack.wait_replicas_caught_up()
    yield
    # The replica prober's own connections to the test database would make its DROP fail.
    from pinsite import replica_health

    replica_health.reset()


@pytest.fixture
def services():
    """The running services (skips the test only outside CI, when they could not start)."""
    return require_stack()


def _test_database_env() -> dict[str, str]:
    """The environment a separate process needs to use this session's test database."""
    stack = require_stack()
    env = {**os.environ, **stack.env()}
    test_name = settings.DATABASES["default"]["NAME"]

    def renamed(url: str) -> str:
        return url.rsplit("/", 1)[0] + "/" + test_name

    env["DATABASE_URL"] = renamed(env["DATABASE_URL"])
    env["DATABASE_REPLICA_URLS"] = ",".join(
        renamed(url) for url in env["DATABASE_REPLICA_URLS"].split(",")
    )
    env["DJANGO_SETTINGS_MODULE"] = "pinsite.settings"
    return env


@pytest.fixture(scope="module")
def celery_worker_process(tmp_path_factory, django_db_setup):
    """A real `celery worker` process on the session's Redis broker and test database.

    Use with ``django_db(transaction=True)`` so the worker can see committed rows.
    """
    require_stack()
    log = tmp_path_factory.mktemp("celery") / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "pinsite",
                "worker",
                "-Q",
                "celery,media",
                "--concurrency",
                "1",
                "--pool",
                "prefork",
                "--without-mingle",
                "--without-gossip",
                "--loglevel",
                "INFO",
            ],
            cwd=REPO,
            env=_test_database_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 30
    while b"ready." not in log.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"celery worker did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    yield process, log
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait()
