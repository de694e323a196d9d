"""pytest harness: start the real services for one test session, before Django reads its settings.

Loaded with ``-p stack.pytest_plugin`` (see pyproject.toml). It wraps pytest's start-up so the
PostgreSQL primary with 2 replicas, Redis and the S3 server run on free ports in a temporary folder
and their addresses are in the environment when Django's settings module is imported; everything is
stopped and removed when the session ends.

The environment is scrubbed first: a developer's own ``DATABASE_URL`` or bucket must never reach a
test. With ``CI=true`` a service that cannot start ends the run with its log; elsewhere the suite
falls back to the embedded default (SQLite, local disk) and the tests that need a service are
skipped with the reason shown. ``PINSITE_TEST_STACK=off`` asks for that fallback on purpose.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stack import Stack, StackError
from stack.rgw import RadosGateway

ENV_EXAMPLE = Path(__file__).resolve().parent.parent / ".env.example"


def settings_variables() -> list[str]:
    """Every variable pinsite's settings read, as listed in .env.example (a test keeps it complete)."""
    names = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        name, sep, _value = line.partition("=")
        if sep and name.isupper() and not name.startswith("#"):
            names.append(name.strip())
    return names


_session: dict = {
    "stack": None,
    "root": None,
    "unavailable": None,
    "rgw": None,  # the Ceph RGW lane, while the `rgw` fixture has it running
    "rgw_summary": None,
}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def current_stack() -> Stack | None:
    """The services started for this session, or None when running on the embedded default."""
    return _session["stack"]


def require_stack() -> Stack:
    """The session's services; skips the calling test (never in CI) when they could not start."""
    stack = _session["stack"]
    if stack is None:
        pytest.skip(f"needs the real services: {_session['unavailable']}")
    return stack


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    # Runs around pytest-django's own hook, which imports the settings module.
    for name in settings_variables():
        os.environ.pop(name, None)
    root = Path(tempfile.mkdtemp(prefix="pinsite-test-"))
    _session["root"] = root
    # The embedded default's files go to the temp folder too, never to the checkout's var/.
    os.environ["PINSITE_VAR_DIR"] = str(root / "var")
    # Pages find static files in the app folders, with no collectstatic per session
    # (pinsite/tests/test_static.py runs the production storage for real).
    os.environ["DJANGO_STATIC_MANIFEST"] = "false"

    if os.environ.get("PINSITE_TEST_STACK", "on").lower() == "off":
        _session["unavailable"] = "PINSITE_TEST_STACK=off"
        if in_ci():
            pytest.exit("PINSITE_TEST_STACK=off is not allowed in CI: every test must run", 2)
    else:
        stack = Stack(root / "stack")
        try:
            stack.start()
            stack.wait_replicas_caught_up()
        except StackError as error:
            stack.stop()
            if in_ci():
                pytest.exit(f"a test service failed to start (CI=true):\n{error}", 3)
            _session["unavailable"] = str(error).splitlines()[0]
            print(
                f"\npinsite: real services unavailable, using the embedded default: {error}",
                file=sys.stderr,
            )
        else:
            _session["stack"] = stack
            os.environ.update(stack.env())
    yield


class RgwLane:
    """What the `rgw` fixture gives a test: a real Ceph RGW's address, credentials and clients."""

    def __init__(self, gateway: RadosGateway) -> None:
        self.gateway = gateway
        self.endpoint_url = gateway.endpoint_url
        self.tls_endpoint_url = gateway.tls_endpoint_url  # None when started without TLS
        self.ca_bundle = str(gateway.ca_bundle)  # the self-signed certificate of the TLS port
        self.access_key = gateway.access_key
        self.secret_key = gateway.secret_key
        self.region = gateway.region

    def client(self, *, tls: bool = False, **config: Any) -> Any:
        """A boto3 S3 client: SigV4, path-style, us-east-1; over HTTPS if `tls`."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.tls_endpoint_url if tls else self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            verify=self.ca_bundle if tls else None,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, **config),
        )


@pytest.fixture(scope="session")
def rgw() -> Iterator[RgwLane]:
    """A real Ceph Object Gateway for the session, started on first use (see stack/rgw.py).

    Unlike moto it enforces signatures, presigned expiry, POST-policy conditions and bucket
    policies. Like `require_stack()`: with CI=true a failure to start fails the tests that ask
    for it; elsewhere they are skipped with the reason.
    """
    if _session["unavailable"] == "PINSITE_TEST_STACK=off":
        pytest.skip("needs the Ceph RGW lane: PINSITE_TEST_STACK=off")
    gateway = _session["rgw"] = RadosGateway(_session["root"] / "rgw")
    try:
        gateway.start()
    except StackError as error:
        gateway.stop()
        _session["rgw"] = None
        if in_ci():
            pytest.fail(f"the Ceph RGW lane failed to start (CI=true):\n{error}", pytrace=False)
        pytest.skip(f"needs the Ceph RGW lane: {str(error).splitlines()[0]}")
    try:
        yield RgwLane(gateway)
    finally:
        times = gateway.timings
        _session["rgw_summary"] = (
            f"Ceph RGW lane: up in {times['start']:.1f} s (packages {times['install']:.1f} s,"
            f" bootstrap {times['bootstrap']:.1f} s{', retried once' if gateway.retried else ''}),"
            f" {gateway.memory_kib() // 1024} MiB resident at the end"
        )
        gateway.stop()
        _session["rgw"] = None


def pytest_terminal_summary(terminalreporter):
    if _session["rgw_summary"]:
        terminalreporter.write_line(_session["rgw_summary"])


def pytest_unconfigure(config):
    if _session["rgw"] is not None:  # an interrupted session may not have finalised the fixture
        _session["rgw"].stop()
        _session["rgw"] = None
    stack, root = _session["stack"], _session["root"]
    if stack is not None:
        stack.stop()
        _session["stack"] = None
    if root is not None:
        shutil.rmtree(root, ignore_errors=True)
        _session["root"] = None


def pytest_report_header(config):
    stack = _session["stack"]
    if stack is None:
        return f"pinsite services: embedded default ({_session['unavailable']})"
    env = stack.env()
    return (
        f"pinsite services: primary {env['DATABASE_URL']}, "
        f"{len(env['DATABASE_REPLICA_URLS'].split(','))} replicas, {env['REDIS_URL']}, "
        f"S3 {env['S3_ENDPOINT_URL']}"
    )
