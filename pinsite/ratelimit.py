"""Rate limits: how often one account, address, person or IP may log in, sign up, ask for a
password reset, upload, search and report.

Policy:

- Every limit is a fixed window: at most ``count`` hits per ``seconds`` for one key (an account
  name, an email address, a person, a client IP). The windows are aligned to the clock; a hit over
  the count is refused until the window ends. The counts live in the default cache (Redis on the
  stack), under a hash of
  the key so addresses and names are not stored in the clear. On the embedded default there is no
  Redis: the ``ratelimit`` cache alias (a file cache under ``var/``) is shared by every process of
  the site instead, so two web workers do not each give a guesser a fresh allowance.
- The numbers are ``settings.RATE_LIMITS`` (``{"login_account": (10, 900), ...}``), each read from
  ``RATE_LIMIT_<NAME>=count/seconds`` in the environment; ``0`` turns one limit off and
  ``RATE_LIMITS_ENABLED=false`` turns them all off (for load benchmarks).
- A refused request gets 429 with ``Retry-After`` (seconds to the window's end): the page
  ``templates/429.html`` for a person, ``{"error": ...}`` for a JSON client.
- When the cache cannot be reached, limits on reads and ordinary writes (search, upload, report,
  sign-up) fail open: a dead Redis must not take those pages down with it. Log-in and password
  reset are the ones that protect accounts, so they fall back to counting in this process's memory
  instead (a guesser gets at most one allowance per process, and log-in keeps working).
- The client IP is ``REMOTE_ADDR``, or the header named by ``RATE_LIMIT_CLIENT_IP_HEADER`` (for
  example ``HTTP_X_REAL_IP``) when a proxy in front sets it; never a header a client can forge.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)

# The limits that protect accounts: counted in this process when the shared cache is down.
KEPT_WHEN_CACHE_DOWN = frozenset(
    {"login_account", "login_ip", "password_reset_email", "password_reset_ip"}
)
_local = LocMemCache("pinsite-ratelimit", {"OPTIONS": {"MAX_ENTRIES": 10_000}})
# Part of every key; tests change it so each starts with fresh counts.
namespace = "rl"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # seconds until the window ends (when refused)

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.retry_after / 60))


ALLOWED = Verdict(True)


def _limit(name: str) -> tuple[int, int] | None:
    if not settings.RATE_LIMITS_ENABLED:
        return None
    count, seconds = settings.RATE_LIMITS[name]
    return (count, seconds) if count > 0 and seconds > 0 else None


def _shared():
    """The cache every process of the site counts in: the ``ratelimit`` alias when configured
    (the embedded default's file cache), else the default cache (Redis)."""
    return caches["ratelimit"] if "ratelimit" in settings.CACHES else cache


def _cache_down() -> bool:
    return not getattr(_shared(), "available", True)


def _count(name: str, key: str, seconds: int, *, add: bool) -> tuple[int, int]:
    """(hits in the current window, seconds left in it), counting one more when ``add``."""
    now = time.time()
    window = int(now // seconds)
    left = max(1, math.ceil((window + 1) * seconds - now))
    digest = hashlib.sha256(f"{name}\0{key}".encode()).hexdigest()[:32]
    cache_key = f"{namespace}:{name}:{digest}:{window}"
    shared = _shared()
    store = _local if name in KEPT_WHEN_CACHE_DOWN and _cache_down() else shared
    if not add:
        return int(store.get(cache_key, 0) or 0), left
    for _attempt in range(2):
        store.add(cache_key, 0, timeout=seconds + 1)
        try:
            return store.incr(cache_key), left
        except ValueError:  # expired between add and incr, or the cache went away
            if store is shared and _cache_down():
                if name not in KEPT_WHEN_CACHE_DOWN:
                    return 0, left  # fail open
                store = _local
    return 0, left


def check(name: str, key: str) -> Verdict:
    """Whether ``key`` is over limit ``name`` now, without counting a hit."""
    limit = _limit(name)
    if limit is None or not key:
        return ALLOWED
    count, seconds = limit
    hits, left = _count(name, key, seconds, add=False)
    return Verdict(hits < count, 0 if hits < count else left)


def hit(name: str, key: str) -> Verdict:
    """Count one hit of ``key`` against limit ``name``; refused once the count is passed."""
    limit = _limit(name)
    if limit is None or not key:
        return ALLOWED
    count, seconds = limit
    hits, left = _count(name, key, seconds, add=True)
    if hits > count:
        logger.info("rate limit %s reached (%d hits in %d s)", name, hits, seconds)
        return Verdict(False, left)
    return ALLOWED


def client_ip(request: HttpRequest) -> str:
    header = settings.RATE_LIMIT_CLIENT_IP_HEADER
    return (request.META.get(header) if header else None) or request.META.get("REMOTE_ADDR", "")


def person_or_ip(request: HttpRequest) -> str:
    """The signed-in person, else the client's IP: what a per-person limit counts."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"ip:{client_ip(request)}"


def wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "") or (
        request.content_type == "application/json"
    )


def too_many(
    request: HttpRequest,
    verdict: Verdict,
    *,
    message: str = "",
    json: bool | None = None,
) -> HttpResponse:
    """The 429 answer: a calm page, or JSON for JSON clients; ``Retry-After`` either way.
    ``{wait}`` in ``message`` becomes the wait ("14 minutes")."""
    message = (message or "Too many attempts; try again in {wait}.").format(
        wait=in_minutes(verdict)
    )
    if wants_json(request) if json is None else json:
        response: HttpResponse = JsonResponse({"error": message}, status=429)
    else:
        response = HttpResponse(
            render_to_string("429.html", {"reason": message}, request=request), status=429
        )
    response["Retry-After"] = str(verdict.retry_after)
    return response


def in_minutes(verdict: Verdict) -> str:
    """ "1 minute", "14 minutes": the wait, for a message."""
    return "1 minute" if verdict.minutes == 1 else f"{verdict.minutes} minutes"


def lockout_message(verdict: Verdict) -> str:
    return f"Too many attempts; try again in {in_minutes(verdict)}."


def rate_limited(
    name: str,
    key: Callable[[HttpRequest], str] = person_or_ip,
    *,
    methods: tuple[str, ...] = ("POST",),
    json: bool | None = None,
    message: str = "",
):
    """A view decorator: each request with one of ``methods`` counts against limit ``name`` for
    ``key(request)``; over the limit, the view is not called and the answer is 429."""

    def decorate(view):
        @wraps(view)
        def limited(request: HttpRequest, *args, **kwargs):
            if request.method in methods:
                verdict = hit(name, key(request))
                if not verdict.allowed:
                    return too_many(request, verdict, message=message, json=json)
            return view(request, *args, **kwargs)

        return limited

    return decorate
