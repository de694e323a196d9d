"""Shared fixtures. The services themselves are started by stack.pytest_plugin."""

from __future__ import annotations

import contextlib
import itertools
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
    from pinsite.db import replica_health

    replica_health.reset()


@pytest.fixture(autouse=True)
def _breakers_closed():
    """Each test starts with every circuit breaker closed (the cache and the access counter ask
    Redis): a test that stopped or killed a service must not make the next one skip it."""
    from pinsite.breaker import all_breakers

    for item in all_breakers():
        item.reset()
    yield
    for item in all_breakers():
        item.reset()


@pytest.fixture(autouse=True)
def _rate_limits_counted_afresh():
    """Each test starts with fresh rate-limit counts (they live in Redis across the session)."""
    from pinsite import ratelimit

    ratelimit.namespace = f"rl-test-{next(_test_numbers)}-{os.getpid()}"
    yield


_test_numbers = itertools.count()


# Fixtures that open the test database (a test asking for one gets the database wrapper first).
_DB_FIXTURES = (
    "db",
    "transactional_db",
    "django_db_reset_sequences",
    "django_db_serialized_rollback",
)


class S3InTransaction(AssertionError):
    """An S3 request was made inside a database transaction or row lock."""


@pytest.fixture(autouse=True)
def s3_outside_transactions(request):
    """Fail any S3 request made through the media storage inside a database transaction.

    pytest-django runs a test without ``transaction=True`` inside an atomic block of its own: the
    depth of every connection's atomic blocks when the test begins is the baseline, and only a
    block deeper than that counts. The failure is raised at the call and again when the test
    ends (in case the code under test swallowed it). Presigning makes no request and is not
    counted. Workers started by ``start_celery_worker`` refuse such a call themselves
    (``S3_IN_TRANSACTION=raise``): the task fails and so does the test waiting for it.
    """
    from django.db import connections

    from media.storage import backend

    if request.node.get_closest_marker("django_db") is not None:
        request.getfixturevalue("_django_db_helper")
    for name in _DB_FIXTURES:
        if name in request.fixturenames:
            request.getfixturevalue(name)
    baseline = {alias: len(connections[alias].atomic_blocks) for alias in connections}
    violations: list[str] = []

    def check(operation: str) -> None:
        for alias in connections:
            connection = connections[alias]
            if connection.in_atomic_block and len(connection.atomic_blocks) > baseline[alias]:
                message = f"S3 {operation} inside a transaction on database {alias!r}"
                violations.append(message)
                raise S3InTransaction(message)

    # Instead of the storage's own tripwire, which cannot tell the test's transaction apart.
    saved = backend.call_checks[:]
    backend.call_checks[:] = [check]
    yield violations
    backend.call_checks[:] = saved
    if violations:
        pytest.fail("; ".join(violations), pytrace=False)


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


def start_celery_worker(
    log: Path,
    *,
    queues: str | None = None,
    concurrency: int = 1,
    env: dict[str, str] | None = None,
) -> subprocess.Popen:
    """Start a real `celery worker` (its own process group) and wait until it is ready."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "pinsite",
                "worker",
                # None: every queue in settings.CELERY_TASK_QUEUES, as make run and make stack.
                *(["-Q", queues] if queues else []),
                "--concurrency",
                str(concurrency),
                "--pool",
                "prefork",
                "--without-mingle",
                "--without-gossip",
                "--loglevel",
                "INFO",
            ],
            cwd=REPO,
            # An S3 call inside a transaction fails the task (and the test waiting for it).
            env={**_test_database_env(), "S3_IN_TRANSACTION": "raise", **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 30
    ready_marks = log.read_bytes().count(b"ready.")
    while log.read_bytes().count(b"ready.") <= ready_marks:
        if process.poll() is not None or time.monotonic() > deadline:
            stop_celery_worker(process)
            pytest.fail(f"celery worker did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    return process


def stop_celery_worker(process: subprocess.Popen) -> None:
    """Warm shutdown, then the whole process group (its pool) if it does not go in time."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait()
    with contextlib.suppress(ProcessLookupError):  # pool processes a killed parent left
        os.killpg(process.pid, 9)


@pytest.fixture(scope="module")
def celery_worker_process(tmp_path_factory, django_db_setup):
    """A real `celery worker` process on the session's Redis broker and test database.

    Use with ``django_db(transaction=True)`` so the worker can see committed rows.
    """
    require_stack()
    log = tmp_path_factory.mktemp("celery") / "worker.log"
    log.touch()
    process = start_celery_worker(log)
    yield process, log
    stop_celery_worker(process)


@pytest.fixture
def celery_worker_factory(tmp_path, django_db_setup):
    """Start workers with other queues or settings (e.g. to kill one); all stopped afterwards.

    ``start(name, **options)`` returns (process, log); options as for start_celery_worker.
    """
    require_stack()
    started: list[subprocess.Popen] = []

    def start(name: str = "worker", **options) -> tuple[subprocess.Popen, Path]:
        log = tmp_path / f"{name}.log"
        log.touch()
        process = start_celery_worker(log, **options)
        started.append(process)
        return process, log

    yield start
    for process in started:
        stop_celery_worker(process)


@pytest.fixture
def staff_client(client):
    """The test client logged in as a staff superuser (also on ``client.user``)."""
    from accounts.tests.factories import make_user

    staff = make_user("staffer")
    staff.is_staff = staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    client.user = staff
    return client
