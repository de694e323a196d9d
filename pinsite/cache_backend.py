"""The cache backend: Django's Redis cache that never fails a page, and counts what it answers.

A cache is an optimisation, so Redis being down, restarting or hung must cost speed, never a
page: every error is logged and turned into a miss (reads) or a no-op (writes), and the process's
circuit breaker for that server (``pinsite.breaker``, shared by every thread's cache object)
opens: Redis is left alone for ``retry_after`` seconds (``OPTIONS={"retry_after": 5}``), then one
call probes it while the others keep answering misses, so a dead or hung server costs one call's
timeout per interval and process, not one per call or per thread. Short socket timeouts
(settings) bound what a hung server costs that one call; when the probe succeeds the cache is
used again at once, with no restart.

``set_many`` keeps Django's contract of returning the keys it could not store, so callers that
must know (``pinsite.page_cache`` replays lost invalidations) can tell.

Counters are per process (like the replica router's): hits, misses, errors and skipped calls,
served at ``/metrics``.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import RedisError

from pinsite.breaker import CircuitBreaker, breaker

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
    if TYPE_CHECKING:  # Django's, left out of django-stubs: the client made on first use
        _cache: _ReusedClient
        _servers: list[str]

    def __init__(self, server, params):
        options = dict(params.get("OPTIONS") or {})
        self.retry_after = float(options.pop("retry_after", 5.0))
        super().__init__(server, {**params, "OPTIONS": options})
        self._class = _ReusedClient
        # Django makes a cache object per thread: the breaker is per server and process.
        retry_after = self.retry_after
        self.breaker: CircuitBreaker = breaker(
            f"redis cache {_where(self._servers[0])}", lambda: retry_after
        )

    @property
    def available(self) -> bool:
        """False while the breaker is open (calls then answer as misses at once)."""
        return self.breaker.state == "closed"

    def _guard(self, call, fallback):
        if not self.breaker.allow():
            _count("skipped")
            return fallback
        try:
            result = call()
        except FAULTS as error:
            _count("errors")
            self.breaker.failed(error)
            return fallback
        self.breaker.succeeded()
        return result

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
        if not self.breaker.allow():
            _count("skipped")
            raise ValueError(f"Key '{key}' not found (cache unavailable)")
        try:
            value = super().incr(key, delta, version)
        except FAULTS as error:
            _count("errors")
            self.breaker.failed(error)
            raise ValueError(f"Key '{key}' not found (cache unavailable)") from None
        self.breaker.succeeded()
        return value


def _where(location: str) -> str:
    """host:port/db of a Redis URL, without its credentials (breaker names are shown)."""
    parts = urlsplit(location)
    return f"{parts.hostname}:{parts.port or 6379}{parts.path or '/0'}"
