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
