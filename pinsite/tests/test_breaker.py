"""Circuit breakers (pinsite/breaker.py) and the timeouts they rely on, against real parts: a
redis-server of the test's own that is stopped (SIGSTOP: hung) or killed, the session's Redis as
the task broker, stopped and resumed, and the session's PostgreSQL for statement timeouts.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError, connections
from kombu.exceptions import OperationalError as BrokerError
from PIL import Image

from media.models import MediaAsset
from media.tests.factories import encoded
from pinsite.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker, breaker
from pinsite.cache_backend import ResilientRedisCache, cache_counts
from pinsite.celery import BrokerUnavailable
from pinsite.db.timeouts import use_statement_timeout
from stack.processes import free_ports
from stack.pytest_plugin import require_stack
from stack.redis_server import RedisServer

# --- the state machine (pure: a clock is all it needs) -------------------------------------------


def test_a_failure_opens_the_breaker_then_one_probe_decides():
    gate = CircuitBreaker("test service", open_seconds=0.2)
    assert gate.allow() and gate.state == CLOSED
    gate.failed(ConnectionError("refused"))
    assert gate.state == OPEN
    assert [gate.allow() for _ in range(5)] == [False] * 5
    assert gate.skipped == 5 and gate.openings == 1

    time.sleep(0.25)
    assert gate.state == HALF_OPEN
    assert gate.allow()  # the one probe
    assert not gate.allow() and not gate.allow()  # the others wait for its answer
    gate.failed(TimeoutError("still hung"))
    assert gate.state == OPEN and gate.openings == 1  # reopened, not a new outage

    time.sleep(0.25)
    assert gate.allow()
    gate.succeeded()
    assert gate.state == CLOSED
    assert all(gate.allow() for _ in range(3))


def test_a_probe_that_never_reports_is_given_up_after_one_interval():
    gate = CircuitBreaker("test service", open_seconds=0.1)
    gate.failed("refused")
    time.sleep(0.15)
    assert gate.allow()  # the probe's thread dies without a word
    assert not gate.allow()
    time.sleep(0.15)
    assert gate.allow()  # another caller probes


# --- the cache on a Redis that hangs or dies ----------------------------------------------------


@dataclass
class _OwnRedis(RedisServer):
    pid: int = 0


@pytest.fixture
def own_redis(tmp_path, settings) -> Iterator[_OwnRedis]:
    """A redis-server of this test's own as the default cache (0.2 s timeouts, 0.5 s open)."""
    require_stack()
    server = _OwnRedis(tmp_path / "redis", tmp_path / "redis.log", free_ports(1)[0])
    server.launch()
    server.pid = server.wait().pid
    settings.CACHES = {
        "default": {
            "BACKEND": "pinsite.cache_backend.ResilientRedisCache",
            "LOCATION": f"redis://127.0.0.1:{server.port}/0",
            "KEY_PREFIX": "breaker-test",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2, "retry_after": 0.5},
        }
    }
    yield server
    current = server.process()
    for pid in {server.pid, current.pid if current else 0} - {0}:
        try:
            os.kill(pid, signal.SIGCONT)
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _timed(call):
    began = time.monotonic()
    value = call()
    return value, time.monotonic() - began


def test_a_hung_redis_costs_the_cache_one_timeout_per_interval_then_it_is_used_again(own_redis):
    cache = caches["default"]
    assert isinstance(cache, ResilientRedisCache)
    cache.set("kept", "value")
    assert cache.get("kept") == "value"

    os.kill(own_redis.pid, signal.SIGSTOP)
    try:
        errors = cache_counts()["errors"]
        value, took = _timed(lambda: cache.get("kept"))
        assert value is None and took < 1.0  # the socket timeout (0.2 s), not the OS's minutes
        assert cache.breaker.state == OPEN
        skipped = cache_counts()["skipped"]
        values, took = _timed(lambda: [cache.get("kept") for _ in range(50)])
        assert values == [None] * 50 and took < 0.2  # not asked at all
        assert cache_counts()["skipped"] == skipped + 50
        assert cache_counts()["errors"] == errors + 1

        # Half open: of several threads (each with its own cache object), one probes.
        time.sleep(0.6)
        results: list[object] = []

        def read() -> None:
            results.append(caches["default"].get("kept"))

        threads = [threading.Thread(target=read) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(5)
        assert results == [None] * 4
        assert cache_counts()["errors"] == errors + 2
        assert cache.breaker.state == OPEN
    finally:
        os.kill(own_redis.pid, signal.SIGCONT)

    time.sleep(0.6)  # the interval runs out; the next call probes a Redis that answers
    assert cache.get("kept") == "value"
    assert cache.breaker.state == CLOSED


def test_a_killed_redis_is_skipped_and_the_restarted_one_used_without_a_restart(own_redis):
    cache = caches["default"]
    assert isinstance(cache, ResilientRedisCache)
    cache.set("kept", "value")
    os.kill(own_redis.pid, signal.SIGKILL)
    time.sleep(0.1)
    value, took = _timed(lambda: [cache.get("kept") for _ in range(20)])
    assert value == [None] * 20 and took < 0.5
    assert cache.breaker.state == OPEN

    own_redis.launch()  # empty: a killed Redis without persistence comes back with nothing
    own_redis.pid = own_redis.wait().pid
    time.sleep(0.6)
    cache.set("again", "yes")
    assert cache.get("again") == "yes"
    assert cache.breaker.state == CLOSED


# --- the task broker -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_hung_broker_fails_the_first_send_within_its_timeouts_and_skips_the_next(
    client, settings
):
    """An upload commits, then queueing its processing meets a hung broker (the session's Redis,
    stopped): the person still gets the asset, the asset stays pending for the sweeper, and the
    next upload does not wait for the broker at all. When Redis answers again, tasks are sent
    again without a restart."""
    stack = require_stack()
    from media.tasks import media_asset_purge_task

    settings.BREAKER_OPEN_SECONDS = 1.0
    person = get_user_model().objects.create_user("uploader", password="x")
    client.force_login(person)
    redis = stack._redis().process()
    assert redis is not None

    def upload(shade: int):
        image = encoded(Image.new("RGB", (320, 240), (shade, 90, 160)), "JPEG")
        return _timed(
            lambda: client.post(
                "/pin/upload/", {"file": SimpleUploadedFile("a.jpg", image, "image/jpeg")}
            )
        )

    os.kill(redis.pid, signal.SIGSTOP)
    try:
        first, took_first = upload(10)
        second, took_second = upload(20)
    finally:
        os.kill(redis.pid, signal.SIGCONT)
    assert first.status_code == 201, first.content
    assert second.status_code == 201, second.content
    # Connect and read timeouts of the broker, once per retry: seconds, not minutes.
    assert took_first < 3 * settings.BROKER_TIMEOUT + 2
    assert took_second < took_first
    assert breaker("task broker").state != CLOSED
    for reply in (first, second):
        assert MediaAsset.objects.get(pk=reply.json()["asset"]).status == "pending"

    with pytest.raises(BrokerUnavailable):  # still within the interval: not even tried
        media_asset_purge_task.delay(0)
    time.sleep(1.1)
    media_asset_purge_task.delay(0)  # the probe: Redis answers, the task is sent
    assert breaker("task broker").state == CLOSED


def test_a_dead_broker_is_reported_as_a_broker_error(settings):
    """Callers catch kombu's OperationalError: BrokerUnavailable is one."""
    assert issubclass(BrokerUnavailable, BrokerError)


# --- statement timeouts ------------------------------------------------------------------------


@pytest.fixture
def restore_options() -> Iterator[None]:
    saved = {alias: dict(connections.settings[alias].get("OPTIONS", {})) for alias in connections}
    yield
    for alias, options in saved.items():
        connections.settings[alias]["OPTIONS"] = options
    connections.close_all()


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_web_statement_gives_up_at_the_page_budget_and_a_task_may_run_longer(
    settings, restore_options
):
    require_stack()
    settings.DB_STATEMENT_TIMEOUT = 0.3
    settings.DB_TASK_STATEMENT_TIMEOUT = 5
    use_statement_timeout("web")
    for alias in connections:
        began = time.monotonic()
        with (
            pytest.raises(OperationalError, match="statement timeout"),
            connections[alias].cursor() as cursor,
        ):
            cursor.execute("SELECT pg_sleep(3)")
        assert time.monotonic() - began < 2, alias

    use_statement_timeout("task")
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_sleep(0.5), current_setting('statement_timeout')")
        assert cursor.fetchone()[1] == "5s"
