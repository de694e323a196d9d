"""The WSGI entry point keeps what every request shares out of the garbage collector's walks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import gc, os
os.environ["DATABASE_URL"] = ""
from pinsite.wsgi import application
loaded = gc.get_freeze_count()
from django.test import RequestFactory  # stands for what a first request builds
from django.core.signals import request_finished
request_finished.send(sender=None)  # as the first request ends
print(loaded, gc.get_freeze_count())
"""


def test_the_loaded_application_and_the_first_requests_objects_are_frozen(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "PINSITE_VAR_DIR": str(tmp_path), "REDIS_URL": ""},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    loaded, after_first = map(int, done.stdout.split()[-2:])
    assert loaded > 10_000  # Django and pinsite, frozen at import
    assert after_first > loaded  # and again once the first request is done


TIMEOUTS = """
import os
os.environ["DATABASE_URL"] = "postgres://nobody@127.0.0.1:9/none"
from pinsite.wsgi import application
from django.db import connections
print(connections.settings["default"]["OPTIONS"]["options"])
from celery.signals import worker_init
import pinsite.celery
worker_init.send(sender=None)  # what `celery worker` sends before its pool starts
print(connections.settings["default"]["OPTIONS"]["options"])
"""


def test_web_and_worker_entry_points_give_their_connections_their_statement_timeouts(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "PINSITE_VAR_DIR": str(tmp_path), "REDIS_URL": ""}
    env |= {"DB_STATEMENT_TIMEOUT": "4", "DB_TASK_STATEMENT_TIMEOUT": "120"}
    done = subprocess.run(
        [sys.executable, "-c", TIMEOUTS],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    web, task = done.stdout.strip().splitlines()[-2:]
    assert web.endswith("-c statement_timeout=4000") and "jit=off" in web
    assert task.endswith("-c statement_timeout=120000") and "4000" not in task
