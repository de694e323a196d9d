"""The cache backend: Django's Redis cache that never fails a page, and counts what it answers.

A cache is an optimisation, so Redis being down, restarting or hung must cost speed, never a
page: every error is logged and turned into a miss (reads) or a no-op (writes), and the backend
then leaves Redis alone for ``retry_after`` seconds (``OPTIONS={"retry_after": 5}``) so a dead
server costs one refused connection per interval and process, not one per call. Short socket
timeouts (settings) bound what a hung server costs that one call.

``set_many`` keeps Django's contract of returning the keys it could not store, so callers that
must know (``pinsite.page_cache`` replays lost invalidations) can tell.

Counters are per process (like the replica router's): hits, misses, errors and skipped calls,
served at ``/metrics``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import RedisError

if TYPE_CHECKING:
    from redis import ConnectionPool, Redis

logger = logging.getLogger(__name__)

FAULTS = (RedisError, OSError)
_counts: Counter[str] = Counter()
_lock = threading.Lock()


def cache_counts() -> dict[str, int]:
    """This process's cache counters: get_hits, get_misses, errors, skipped (while backing off)."""
    with _lock:
        return {name: _counts[name] for name in ("get_hits", "get_misses", "errors", "skipped")}


def _count(name: str, amount: int = 1) -> None:
    with _lock:
        _counts[name] += amount


class _ReusedClient(RedisCacheClient):
    """Django's client, keeping one ``redis.Redis`` per connection pool: Django makes a new one
    for every call (building its table of response callbacks each time), five or more per
    page. A ``redis.Redis`` is safe to share between threads (it takes a pooled connection
    per command)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Redis] = {}

    if TYPE_CHECKING:  # Django's, left out of django-stubs
        _client: type[Redis]

        def _get_connection_pool(self, write: bool) -> ConnectionPool: ...

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None or client.connection_pool is not pool:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class ResilientRedisCache(RedisCache):
    if TYPE_CHECKING:  # Django's client, made on first use; left out of django-stubs
        _cache: _ReusedClient

    def __init__(self, server, params):
        options = dict(params.get("OPTIONS") or {})
        self.retry_after = float(options.pop("retry_after", 5.0))
        super().__init__(server, {**params, "OPTIONS": options})
        self._class = _ReusedClient
        self._down_until = 0.0

    @property
    def available(self) -> bool:
        """False while backing off after an error (calls then answer as misses at once)."""
        return time.monotonic() >= self._down_until

    def _guard(self, call, fallback):
        if not self.available:
            _count("skipped")
            return fallback
        try:
            return call()
        except FAULTS:
            _count("errors")
            self._down_until = time.monotonic() + self.retry_after
            logger.warning(
                "cache unavailable; serving from the database for %.0f s",
                self.retry_after,
                exc_info=True,
            )
            return fallback

    def get(self, key, default=None, version=None):
        missing = object()
        value = self._guard(
            lambda: super(ResilientRedisCache, self).get(key, missing, version), missing
        )
        _count("get_misses" if value is missing else "get_hits")
        return default if value is missing else value

    def get_many(self, keys, version=None):
        keys = list(keys)
        found = self._guard(lambda: super(ResilientRedisCache, self).get_many(keys, version), {})
        _count("get_hits", len(found))
        _count("get_misses", len(keys) - len(found))
        return found

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        self._guard(
            lambda: super(ResilientRedisCache, self).set(key, value, timeout, version), None
        )

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        failed = list(data)
        return self._guard(
            lambda: super(ResilientRedisCache, self).set_many(data, timeout, version), failed
        )

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guard(
            lambda: super(ResilientRedisCache, self).add(key, value, timeout, version), False
        )

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guard(
            lambda: super(ResilientRedisCache, self).touch(key, timeout, version), False
        )

    def delete(self, key, version=None):
        return self._guard(lambda: super(ResilientRedisCache, self).delete(key, version), False)

    def delete_many(self, keys, version=None):
        keys = list(keys)
        self._guard(lambda: super(ResilientRedisCache, self).delete_many(keys, version), None)

    def has_key(self, key, version=None):
        return self._guard(lambda: super(ResilientRedisCache, self).has_key(key, version), False)

    def incr(self, key, delta=1, version=None):
        # A missing key raises ValueError (Django's contract); an unreachable server is a fault.
        if not self.available:
            _count("skipped")
            raise ValueError(f"Key '{key}' not found (cache unavailable)")
        try:
            return super().incr(key, delta, version)
        except FAULTS:
            _count("errors")
            self._down_until = time.monotonic() + self.retry_after
            logger.warning("cache unavailable during incr", exc_info=True)
            raise ValueError(f"Key '{key}' not found (cache unavailable)") from None
