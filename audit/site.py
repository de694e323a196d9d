"""A throwaway pinsite for the scanners: its own SQLite database and media folder in a temporary
folder, the demo content, gunicorn on a free port, and a signed-in session.

Nothing here touches ``var/`` or a database the environment points at: every variable that would
send pinsite to PostgreSQL, Redis or S3 is dropped, so the embedded default (SQLite, local media,
a file task queue nobody reads) is what the scanners attack, writes included.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO_USER, DEMO_PASSWORD = "demo", "audit-demo"  # given to seed_demo for this throwaway site

# Variables that would point the site at real services, mail or production behaviour.
_DROPPED = (
    "DATABASE_",
    "REDIS_URL",
    "CELERY_",
    "AWS_",
    "S3_",
    "TIER_",
    "EMAIL_",
    "DJANGO_",
    "PINSITE_",
    "MEDIA_ROOT",
    "STATIC_ROOT",
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Site:
    """``with Site(folder) as site:`` migrates, seeds and serves; leaving stops the server."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED)}
        self.env.update(
            DJANGO_SETTINGS_MODULE="audit.site_settings",  # pinsite's, with a fast hasher
            PINSITE_VAR_DIR=str(folder / "var"),
            DJANGO_DEBUG="false",  # what a person exposing `make run` serves: no debug pages
            DEMO_PASSWORD=DEMO_PASSWORD,
            PYTHONUNBUFFERED="1",
        )
        self.server: subprocess.Popen | None = None
        self.sample_ids: dict[str, str] = {}  # set from sample() once the site is seeded
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def __enter__(self) -> Site:
        for args in (
            ["migrate", "--noinput", "-v", "0"],
            [
                "collectstatic",
                "--noinput",
                "-v",
                "0",
            ],  # DEBUG off: hashed static files, as make run
            ["seed_demo"],
        ):
            subprocess.run(
                [sys.executable, "manage.py", *args],
                cwd=REPO,
                env=self.env,
                check=True,
                stdout=subprocess.DEVNULL,
                timeout=300,
            )
        log = (self.folder / "gunicorn.log").open("ab")
        self.server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "pinsite.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--timeout",
                "60",
            ],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.folder / 'gunicorn.log'}")
            with contextlib.suppress(OSError):
                self.get("/healthz")
                return self
            time.sleep(0.3)
        raise RuntimeError("the site did not answer within 60 s")

    def __exit__(self, *exc: object) -> None:
        if self.server is not None and self.server.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.server.pid, signal.SIGTERM)
            try:
                self.server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.server.pid, signal.SIGKILL)
                self.server.wait()

    def get(self, path: str) -> str:
        with self.opener.open(self.url + path, timeout=30) as response:
            return response.read().decode()

    def csrf_token(self, path: str) -> str:
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', self.get(path))
        if not found:
            raise RuntimeError(f"no CSRF token on {path}")
        return found.group(1)

    @staticmethod
    def anonymous_csrf(url: str) -> tuple[str, str]:
        """A CSRF token and the matching cookie for a visitor who is not signed in."""
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        with opener.open(url, timeout=30) as response:
            found = re.search(
                r'name="csrfmiddlewaretoken" value="([^"]+)"', response.read().decode()
            )
        if not found:
            raise RuntimeError(f"no CSRF token on {url}")
        return found.group(1), "; ".join(f"{cookie.name}={cookie.value}" for cookie in jar)

    def sign_in(self) -> str:
        """Sign in as the demo person; return the Cookie header value for the scanners."""
        token = self.csrf_token("/accounts/login/")
        body = urllib.parse.urlencode(
            {"username": DEMO_USER, "password": DEMO_PASSWORD, "csrfmiddlewaretoken": token}
        ).encode()
        request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 built above
            self.url + "/accounts/login/", data=body, headers={"Referer": self.url + "/"}
        )
        with self.opener.open(request, timeout=30):
            pass
        cookies = {cookie.name: cookie.value for cookie in self.cookies}
        if "sessionid" not in cookies:
            raise RuntimeError("signing in as the demo person failed")
        return "; ".join(f"{name}={value}" for name, value in sorted(cookies.items()))

    def sample(self) -> dict[str, str]:
        """Ids and names of real objects to aim at: a pin, a second pin, one of demo's boards."""
        home = self.get("/")
        pins = list(dict.fromkeys(re.findall(r'href="/pin/(\d+)/"', home)))
        profile = self.get(f"/people/{DEMO_USER}/")
        boards = re.findall(rf'href="/boards/{DEMO_USER}/([\w-]+)/"', profile)
        if len(pins) < 2 or not boards:
            raise RuntimeError("the seeded site shows fewer pins or boards than expected")
        return {"pin": pins[0], "pin2": pins[1], "board": boards[0], "user": DEMO_USER}
