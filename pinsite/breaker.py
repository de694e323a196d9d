"""Circuit breakers: stop calling a service that just failed, then let one call find out if it is back.

Each process keeps one breaker per thing it calls (the Redis cache, tiering's access counter, the
task broker), made by ``breaker(name)``. A breaker is *closed* while calls succeed. The first
failure (refused, timed out, reset) *opens* it: for ``BREAKER_OPEN_SECONDS`` every caller skips
the service at once and takes its fallback (a cache miss, a count not kept, a task left for the
sweeper), so a dead or hung service costs one call's timeout per interval and process, not one
per call. When the interval ends the breaker is *half open*: exactly one caller is let through
as a probe while the others keep skipping. The probe's success closes it (the service is used
again, with no restart); its failure opens it for another interval. A probe that never reports
(its thread died) is given up after one interval, and another caller probes.

The caller decides what counts as a failure: only faults of the service itself (connection and
timeout errors), never a bad argument. Counters per breaker (calls skipped, failures, times
opened) and the state are served at ``/metrics``. After a fork the child starts with all breakers
closed: the parent's failures say nothing about the child's connections.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

from django.conf import settings

logger = logging.getLogger(__name__)

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    def __init__(self, name: str, open_seconds: Callable[[], float] | float | None = None) -> None:
        self.name = name
        self._open_seconds = open_seconds
        self._lock = threading.Lock()
        self._state = CLOSED
        self._open_until = 0.0
        self._probe_started: float | None = None
        self.skipped = 0
        self.failures = 0
        self.openings = 0

    def open_seconds(self) -> float:
        value = self._open_seconds
        if value is None:
            return float(settings.BREAKER_OPEN_SECONDS)
        return float(value() if callable(value) else value)

    @property
    def state(self) -> str:
        with self._lock:
            if self._state == OPEN and time.monotonic() >= self._open_until:
                return HALF_OPEN
            return self._state

    def allow(self) -> bool:
        """Whether to call the service now: True when closed, or for the one half-open probe."""
        if self._state == CLOSED:  # the common case, without the lock
            return True
        now = time.monotonic()
        with self._lock:
            if self._state == CLOSED:
                return True
            if now < self._open_until:
                self.skipped += 1
                return False
            probing = self._probe_started
            if probing is not None and now - probing < self.open_seconds():
                self.skipped += 1  # another caller is finding out
                return False
            self._probe_started = now
            return True

    def succeeded(self) -> None:
        if self._state == CLOSED:
            return
        with self._lock:
            was = self._state
            self._state, self._probe_started = CLOSED, None
        if was != CLOSED:
            logger.info("%s answers again: calling it again", self.name)

    def failed(self, error: BaseException | str = "") -> None:
        seconds = self.open_seconds()
        with self._lock:
            self.failures += 1
            was = self._state
            self._state = OPEN
            self._open_until = time.monotonic() + seconds
            self._probe_started = None
            if was == CLOSED:
                self.openings += 1
        if was == CLOSED:
            logger.warning(
                "%s failed (%s): not called for %g s, then one call tries again",
                self.name,
                _first_line(error),
                seconds,
            )

    def reset(self) -> None:
        with self._lock:
            self._state, self._open_until, self._probe_started = CLOSED, 0.0, None


def _first_line(error: BaseException | str) -> str:
    text = str(error).strip().splitlines()
    name = error if isinstance(error, str) else type(error).__name__
    return (text[0] if text else name)[:200]


_breakers: dict[str, CircuitBreaker] = {}
_registry_lock = threading.Lock()


def breaker(name: str, open_seconds: Callable[[], float] | float | None = None) -> CircuitBreaker:
    """This process's breaker called ``name`` (made on first use; ``open_seconds`` defaults to
    ``settings.BREAKER_OPEN_SECONDS``, read at each opening)."""
    found = _breakers.get(name)
    if found is None:
        with _registry_lock:
            found = _breakers.get(name)
            if found is None:
                found = _breakers[name] = CircuitBreaker(name, open_seconds)
    return found


def all_breakers() -> list[CircuitBreaker]:
    with _registry_lock:
        return sorted(_breakers.values(), key=lambda b: b.name)


def prometheus_text() -> str:
    lines = [
        "# HELP pinsite_breaker_open 1 while calls to the service are skipped (open or half open).",
        "# TYPE pinsite_breaker_open gauge",
    ]
    breakers = all_breakers()
    for item in breakers:
        lines.append(f'pinsite_breaker_open{{name="{item.name}"}} {int(item.state != CLOSED)}')
    for metric, attribute, help_text in (
        (
            "pinsite_breaker_skipped_total",
            "skipped",
            "Calls not made because the breaker was open.",
        ),
        ("pinsite_breaker_failures_total", "failures", "Calls that failed with a service fault."),
        ("pinsite_breaker_openings_total", "openings", "Times the breaker opened."),
    ):
        lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} counter"]
        for item in breakers:
            lines.append(f'{metric}{{name="{item.name}"}} {getattr(item, attribute)}')
    return "\n".join(lines) + "\n"


def _after_fork_in_child() -> None:
    global _registry_lock
    _registry_lock = threading.Lock()
    for item in list(_breakers.values()):
        item._lock = threading.Lock()
        item.reset()


os.register_at_fork(after_in_child=_after_fork_in_child)
