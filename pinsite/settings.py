"""pinsite settings: the one module, read from the environment only.

With nothing set, pinsite runs on an embedded default: SQLite, media on local disk under ``var/``,
and Celery over a broker-less filesystem transport (a real worker process reads the task files).
Each integration turns on when its variable is set: ``DATABASE_URL`` (PostgreSQL writer),
``DATABASE_REPLICA_URLS`` (readers), ``REDIS_URL`` / ``CELERY_BROKER_URL`` (cache and broker),
``AWS_STORAGE_BUCKET_NAME`` (+ ``S3_ENDPOINT_URL`` for a non-AWS server) for S3 media.
``DJANGO_ENV=production`` requires the production secrets and turns on the HTTPS hardening.
Every variable is listed with a comment in ``.env.example``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import dj_database_url
from boto3.s3.transfer import TransferConfig
from botocore.config import Config as BotoConfig
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    raw = env_str(name)
    if not raw:
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = env_str(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None


def env_list(name: str) -> list[str]:
    return [item.strip() for item in env_str(name).split(",") if item.strip()]


def secret_key_kept_in(path: Path) -> str:
    """The embedded default's own secret key: made once, readable by its owner alone (0600),
    then reused, so sessions and signed media URLs outlive a restart and no two sites share
    a key. Processes starting together (web and worker) end up with the same key."""
    with contextlib.suppress(FileNotFoundError):
        kept = path.read_text().strip()
        if len(kept) < 50:
            raise ImproperlyConfigured(f"{path} holds no usable secret key; delete it to make one")
        return kept
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
        handle.write(secrets.token_urlsafe(50) + "\n")
    try:
        os.link(draft, path)  # atomic, and never replaces a key another process made first
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return path.read_text().strip()


# --- Environment -----------------------------------------------------------------------------

DJANGO_ENV = env_str("DJANGO_ENV", "development")
if DJANGO_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(f"DJANGO_ENV must be development or production, not {DJANGO_ENV!r}")
PRODUCTION = DJANGO_ENV == "production"

VAR_DIR = Path(env_str("PINSITE_VAR_DIR") or BASE_DIR / "var")

if PRODUCTION:
    # A production secret has no default: failing at start-up beats signing sessions with a known key.
    SECRET_KEY = env_str("DJANGO_SECRET_KEY")
    if len(SECRET_KEY) < 50:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set to 50+ random characters")
    ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must list the site's host names")
else:
    SECRET_KEY = env_str("DJANGO_SECRET_KEY") or secret_key_kept_in(VAR_DIR / "secret_key")
    # The embedded default answers on this machine's own names; a self-hoster exposing it lists
    # the names people use (DJANGO_ALLOWED_HOSTS=pins.example.com,192.168.1.20).
    ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS") or ["127.0.0.1", "localhost", "[::1]"]

# Off unless asked for (`make dev`): a site reachable by others must never show the debug page.
DEBUG = env_bool("DJANGO_DEBUG", default=False)
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

# --- Applications ------------------------------------------------------------------------------

INSTALLED_APPS = [
    "pinsite.apps.PinsiteAdminConfig",  # django.contrib.admin with pinsite's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "media",
    "tiering",
    "accounts",
    "boards",
    "pins",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy, Permissions-Policy and the 405 page (pinsite/security.py).
    "pinsite.security.SecurityHeadersMiddleware",
    "pinsite.static_files.StaticFilesMiddleware",
    # Routes each request's reads (replica or writer); before sessions, so a session save counts.
    "pinsite.db.router.ReadYourWritesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "pinsite.urls"
WSGI_APPLICATION = "pinsite.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "pins:home"
LOGOUT_REDIRECT_URL = "pins:home"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Databases -----------------------------------------------------------------------------------

MAX_REPLICAS = 15
DB_CONNECT_TIMEOUT = env_int("DB_CONNECT_TIMEOUT", 2)
CONN_MAX_AGE = env_int("DB_CONN_MAX_AGE", 60)
DB_SESSION_OPTIONS = env_str(
    "DB_SESSION_OPTIONS", "-c jit=off -c random_page_cost=1.1 -c plan_cache_mode=force_generic_plan"
)
# The compiled hot queries (pinsite.db.compiled) are prepared on a connection after this many runs
# there, so PostgreSQL plans them once instead of on every page (they are all hot, so at once).
# The ORM's own queries bind values on the client and are never prepared. 0 turns it off (a pooler
# in transaction mode that cannot keep prepared statements: PgBouncer before 1.21, or without
# max_prepared_statements).
DB_PREPARE_THRESHOLD = env_int("DB_PREPARE_THRESHOLD", 1)


def _database(url: str) -> dict[str, Any]:
    config = dj_database_url.parse(url, conn_max_age=CONN_MAX_AGE, conn_health_checks=True)
    if config["ENGINE"] == "django.db.backends.postgresql":
        # A reader that hangs must cost seconds at most, never the OS default of minutes.
        config.setdefault("OPTIONS", {})["connect_timeout"] = DB_CONNECT_TIMEOUT
        # Session settings for a site whose working set sits in memory or on SSD (PGOPTIONS still
        # applies after them):
        # - no JIT: PostgreSQL compiles any plan it prices high (a search over many pins), which
        #   costs more than answering pages that finish in a few ms;
        # - random_page_cost 1.1 (the default 4 prices a disk seek): at 4 the planner walks the
        #   pins newest-first to find search matches instead of reading them through the GIN index;
        # - generic plans for prepared statements, which only the compiled hot queries are (see
        #   DB_PREPARE_THRESHOLD): left to choose, PostgreSQL keeps planning the visibility gate
        #   for each id list, which costs more than running it.
        config["OPTIONS"]["options"] = (
            f"{DB_SESSION_OPTIONS} {os.environ.get('PGOPTIONS', '')}".strip()
        )
        config["OPTIONS"]["prepare_threshold"] = DB_PREPARE_THRESHOLD or None
    return cast(dict[str, Any], config)  # a DBConfig, typed as the other DATABASES entries


DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": _database(DATABASE_URL)}
else:
    # The embedded default keeps its files in var/; create it so a fresh checkout just works.
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            # SQLite's default journal blocks readers during writes; WAL lets the web process and the
            # worker share the file without "database is locked" under light concurrency.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }

REPLICA_URLS = env_list("DATABASE_REPLICA_URLS")
if len(REPLICA_URLS) > MAX_REPLICAS:
    raise ImproperlyConfigured(
        f"DATABASE_REPLICA_URLS lists {len(REPLICA_URLS)} readers; pinsite supports up to {MAX_REPLICAS}"
    )
if REPLICA_URLS and not DATABASE_URL:
    raise ImproperlyConfigured(
        "DATABASE_REPLICA_URLS needs DATABASE_URL (the writer) to be set too"
    )
REPLICA_ALIASES: list[str] = []
for index, replica_url in enumerate(REPLICA_URLS, start=1):
    alias = f"replica_{index}"
    DATABASES[alias] = _database(replica_url)
    if DATABASES[alias]["ENGINE"] == "django.db.backends.postgresql":
        # PostgreSQL plus one retry on the writer of a read that meets a dead reader.
        DATABASES[alias]["ENGINE"] = "pinsite.db.replica_backend"
    # Tests create the test database on the writer only; replicas receive it by streaming.
    DATABASES[alias]["TEST"] = {"MIRROR": "default"}
    REPLICA_ALIASES.append(alias)


def env_seconds(name: str, default: float) -> float:
    raw = env_str(name)
    try:
        value = float(raw) if raw else float(default)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number of seconds, not {raw!r}") from None
    if not 0 < value < 86400:
        raise ImproperlyConfigured(f"{name} must be more than 0 and less than a day, not {raw!r}")
    return value


# The read routing policy is stated in pinsite/db/router.py.
REPLICA_PIN_SECONDS = env_seconds("REPLICA_PIN_SECONDS", 5)
REPLICA_MAX_LAG = env_seconds("REPLICA_MAX_LAG", 2)
REPLICA_PROBE_INTERVAL = env_seconds("REPLICA_PROBE_INTERVAL", 1)
if REPLICA_ALIASES and REPLICA_PIN_SECONDS < REPLICA_MAX_LAG + REPLICA_PROBE_INTERVAL:
    # A shorter pin could end while a replica still in rotation lacks the write.
    raise ImproperlyConfigured(
        "REPLICA_PIN_SECONDS must be at least REPLICA_MAX_LAG + REPLICA_PROBE_INTERVAL"
    )
_replica_weights = env_list("DATABASE_REPLICA_WEIGHTS")
if _replica_weights and len(_replica_weights) != len(REPLICA_ALIASES):
    raise ImproperlyConfigured(
        "DATABASE_REPLICA_WEIGHTS needs one weight per URL in DATABASE_REPLICA_URLS"
    )
try:
    REPLICA_WEIGHTS = {
        alias: float(weight)
        for alias, weight in zip(REPLICA_ALIASES, _replica_weights, strict=False)
    }
except ValueError:
    raise ImproperlyConfigured("DATABASE_REPLICA_WEIGHTS must be numbers, e.g. 2,1,1") from None
if any(not 0 <= weight < 1e6 for weight in REPLICA_WEIGHTS.values()):
    raise ImproperlyConfigured("DATABASE_REPLICA_WEIGHTS must be 0 (no reads) or more")
# /metrics answers a request bearing this token (Authorization: Bearer ...) or a staff session.
METRICS_TOKEN = env_str("METRICS_TOKEN")

DATABASE_ROUTERS = ["pinsite.db.router.PrimaryReplicaRouter"]

# --- Cache and tasks -----------------------------------------------------------------------------

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES: dict[str, dict[str, Any]] = {
        "default": {
            # Django's Redis cache, but an unreachable Redis reads as a miss (pinsite/cache_backend.py).
            "BACKEND": "pinsite.cache_backend.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "pinsite",
            "OPTIONS": {
                # A hung Redis costs one call this long, then it is left alone for retry_after.
                "socket_connect_timeout": env_seconds("CACHE_TIMEOUT", 0.25),
                "socket_timeout": env_seconds("CACHE_TIMEOUT", 0.25),
                "retry_after": env_seconds("CACHE_RETRY_AFTER", 5),
            },
        }
    }
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        # Rate limits must be counted across the web server's processes (pinsite/ratelimit.py):
        # without Redis, a file cache under var/ that every process of this site shares.
        "ratelimit": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache" / "ratelimit"),
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        },
    }
# Grid pages cache their pin ids this long (pinsite/page_cache.py); changes retire entries at once.
PAGE_CACHE_SECONDS = env_int("PAGE_CACHE_SECONDS", 300)
# After a change, pages are not cached for this long: a read replica in rotation may lag this much.
PAGE_CACHE_SETTLE_SECONDS = REPLICA_MAX_LAG + 2 * REPLICA_PROBE_INTERVAL if REPLICA_ALIASES else 0.0
# Off: one stamp for every page, so any write retires them all (the way before scoped stamps).
PAGE_CACHE_SCOPED = env_bool("PAGE_CACHE_SCOPED", default=True)
# While Redis is down, each process keeps pages' ids in its own memory this long (0: not at all):
# a change made in another process shows within it (pinsite/page_cache.py).
PAGE_CACHE_OUTAGE_SECONDS = env_int("PAGE_CACHE_OUTAGE_SECONDS", 5)

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or REDIS_URL
# Hard time limits of a media processing run, in seconds (images; videos, which are transcoded).
# A run whose worker died is taken over once its claim is older than this.
MEDIA_TASK_TIME_LIMIT = env_int("MEDIA_TASK_TIME_LIMIT", 120)
MEDIA_VIDEO_TASK_TIME_LIMIT = env_int("MEDIA_VIDEO_TASK_TIME_LIMIT", 360)


def _longest_task_time_limit() -> int:
    # The broker redelivers an unacknowledged task after its visibility timeout: a little more
    # than the longest hard limit, so a dead worker's task comes back in minutes, never twice.
    return max(env_int("CELERY_TASK_TIME_LIMIT", 300), MEDIA_VIDEO_TASK_TIME_LIMIT)


CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if not CELERY_BROKER_URL:
    # Embedded default: kombu's filesystem transport. The web process writes task messages as files,
    # a real `celery worker` process consumes them; no broker server runs.
    CELERY_BROKER_DIR = VAR_DIR / "celery"
    CELERY_BROKER_URL = "filesystem://"
    for _folder in ("queue", "control"):
        (CELERY_BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
        "polling_interval": 0.25,
    }
else:
    # acks_late: a task whose worker died is delivered again after the visibility timeout, which
    # must be longer than any task's hard time limit (or a slow task is delivered twice).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int(
            "CELERY_BROKER_VISIBILITY_TIMEOUT", _longest_task_time_limit() + 30
        ),
    }
# A broker that blips must not hang a web request for long: bound the publish retries (one more
# try, 0.2 s later; the socket timeouts below bound each). What could not be sent stays pending
# and the stuck-media sweeper queues it again.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0.2,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "celery"
# A pool process is replaced after a task leaves it above this many KiB (decoders' peaks stay
# bounded by the pixel limits in media/images/sniff.py; this returns what the allocator keeps).
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env_int("CELERY_WORKER_MAX_MEMORY_PER_CHILD", 768 * 1024)
# Separate queues so a backlog of one kind never delays another: run workers per queue, or one
# worker on all of them (Procfile).
CELERY_TASK_ROUTES = {
    "media.tasks.media_asset_process_task": {"queue": "media"},
    "media.tasks.media_asset_purge_task": {"queue": "media"},
    "media.tasks.media_asset_sweep_stuck_task": {"queue": "maintenance"},
    "media.tasks.upload_sweep_task": {"queue": "maintenance"},
    "media.tasks.media_asset_sweep_unpublished_task": {"queue": "maintenance"},
    "tiering.tasks.*": {"queue": "tiering"},
}
# Every queue, in one place: a worker started without -Q (make run, make stack, the Procfile, the
# tests' workers) consumes all of these.
CELERY_TASK_QUEUES = [Queue(name) for name in ("celery", "media", "tiering", "maintenance")]
CELERY_BEAT_SCHEDULE = {
    "sweep-unconfirmed-uploads": {"task": "media.tasks.upload_sweep_task", "schedule": 15 * 60},
    "requeue-stuck-media": {"task": "media.tasks.media_asset_sweep_stuck_task", "schedule": 60},
    "sweep-unpublished-media": {
        "task": "media.tasks.media_asset_sweep_unpublished_task",
        "schedule": 60 * 60,
    },
    # Access counts from Redis into the rows every minute; the tier sweep once a day.
    "tier-access-flush": {"task": "tiering.tasks.tiering_access_flush_task", "schedule": 60},
    "tier-sweep": {"task": "tiering.tasks.tiering_sweep_task", "schedule": 24 * 60 * 60},
    "tier-access-logs": {
        "task": "tiering.tasks.tiering_access_log_ingest_task",
        "schedule": 15 * 60,
    },
    # The storage dashboard's daily figures (one row a day; a second run replaces it).
    "storage-snapshot": {
        "task": "tiering.tasks.tiering_snapshot_take_task",
        "schedule": crontab(hour=0, minute=15),
    },
}
# Rows against objects, daily, repairing what it can (media/check.py; also /admin/media/check/).
CELERY_TASK_ROUTES["media.tasks.media_check_task"] = {"queue": "maintenance"}
CELERY_BEAT_SCHEDULE["media-check"] = {
    "task": "media.tasks.media_check_task",
    "schedule": crontab(hour=3, minute=40),
}
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240)
CELERY_TIMEZONE = TIME_ZONE

# --- Timeouts and circuit breakers (README "Configuration") --------------------------------------

# Seconds one database statement may run: in a web request (a page's budget), and in a task
# worker (the task time limit). Commands (migrate, shell) have none. See pinsite/db/timeouts.py.
DB_STATEMENT_TIMEOUT = env_seconds("DB_STATEMENT_TIMEOUT", 5)
DB_TASK_STATEMENT_TIMEOUT = env_seconds("DB_TASK_STATEMENT_TIMEOUT", CELERY_TASK_TIME_LIMIT)
# Seconds to connect to the broker, and to wait for each of its answers: sending a task from a
# page costs at most these (times the one retry above) when the broker hangs.
BROKER_CONNECT_TIMEOUT = env_seconds("BROKER_CONNECT_TIMEOUT", 1)
BROKER_TIMEOUT = env_seconds("BROKER_TIMEOUT", 1)
CELERY_BROKER_CONNECTION_TIMEOUT = BROKER_CONNECT_TIMEOUT
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS["socket_connect_timeout"] = BROKER_CONNECT_TIMEOUT
    CELERY_BROKER_TRANSPORT_OPTIONS["socket_timeout"] = BROKER_TIMEOUT
# Seconds a process leaves a service alone after a call to it failed (the task broker, tiering's
# access counter; the cache has CACHE_RETRY_AFTER), before one call tries again (pinsite/breaker.py).
BREAKER_OPEN_SECONDS = env_seconds("BREAKER_OPEN_SECONDS", 5)

# --- Media and static files ----------------------------------------------------------------------

MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or VAR_DIR / "media")
MEDIA_URL = "/media/"
# `collectstatic` writes here for production; whitenoise serves it from the app servers.
STATIC_ROOT = Path(env_str("STATIC_ROOT") or VAR_DIR / "static")
if not PRODUCTION:
    # The embedded default collects into var/static (make run); the folder exists before that so
    # whitenoise starts quietly.
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]

AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
S3_ENDPOINT_URL = env_str("S3_ENDPOINT_URL")
AWS_S3_REGION_NAME = env_str("AWS_S3_REGION_NAME", "us-east-1")
# Reads are short-lived signed URLs; the bucket itself is never public.
MEDIA_URL_EXPIRY_SECONDS = env_int("MEDIA_URL_EXPIRY_SECONDS", 900)
# Pins on secret boards get shorter-lived URLs.
MEDIA_URL_EXPIRY_SECRET_SECONDS = env_int("MEDIA_URL_EXPIRY_SECRET_SECONDS", 300)
# How long a browser has to send a direct upload to S3 after the page asked for the form.
S3_UPLOAD_EXPIRY_SECONDS = env_int("S3_UPLOAD_EXPIRY_SECONDS", 600)
# Origins allowed to POST directly to the bucket (CORS), e.g. https://pins.example.com
S3_UPLOAD_ALLOWED_ORIGINS = env_list("S3_UPLOAD_ALLOWED_ORIGINS")
# Bucket policy allowlists: requests from elsewhere are denied (empty: no such restriction).
S3_ALLOWED_SOURCE_IPS = env_list("S3_ALLOWED_SOURCE_IPS")
S3_ALLOWED_VPC_ENDPOINTS = env_list("S3_ALLOWED_VPC_ENDPOINTS")
# Default encryption: a KMS key id or ARN; empty means SSE-S3 (AES256).
S3_KMS_KEY_ID = env_str("S3_KMS_KEY_ID")
# Seconds to connect to S3 and to wait for each read of its answer, and attempts per call.
S3_CONNECT_TIMEOUT = env_seconds("S3_CONNECT_TIMEOUT", 2)
S3_READ_TIMEOUT = env_seconds("S3_READ_TIMEOUT", 5)
S3_MAX_ATTEMPTS = env_int("S3_MAX_ATTEMPTS", 2)
if not 1 <= S3_MAX_ATTEMPTS <= 10:
    raise ImproperlyConfigured(f"S3_MAX_ATTEMPTS must be from 1 to 10, not {S3_MAX_ATTEMPTS}")
# An S3 call made inside a database transaction holds its locks for as long as S3 takes: "log"
# reports each one as an error, "raise" refuses the call (the test suite's workers), "off".
S3_IN_TRANSACTION = env_str("S3_IN_TRANSACTION", "log")
if S3_IN_TRANSACTION not in {"log", "raise", "off"}:
    raise ImproperlyConfigured(
        f"S3_IN_TRANSACTION must be log, raise or off, not {S3_IN_TRANSACTION}"
    )

# --- Storage tiering (tiering/policy.py decides, tiering/sweep.py moves) -------------------------

# Prices laid over tiering.policy.DEFAULT_PRICES (us-east-1 list prices), per tier and field, as
# JSON: {"STANDARD_IA": {"storage_gb_month": 0.0125, "retrieval_gb": 0.01}}. Checked at start-up.
# The tiering app checks the figures when it loads (tiering.apps), before any request or task.
try:
    TIERING_PRICES: dict = json.loads(env_str("TIERING_PRICES") or "{}")
    if not isinstance(TIERING_PRICES, dict):
        raise ValueError("not an object")
except ValueError as _error:
    raise ImproperlyConfigured(f"TIERING_PRICES is not a usable price table: {_error}") from None
# Seconds the pin page waits at most for Redis when counting an access (then the count is lost).
TIER_ACCESS_REDIS_TIMEOUT = env_seconds("TIER_ACCESS_REDIS_TIMEOUT", 0.05)
# Where S3 server access logs are delivered (bucket and prefix); unset: no log ingestion.
TIER_ACCESS_LOG_BUCKET = env_str("TIER_ACCESS_LOG_BUCKET")
TIER_ACCESS_LOG_PREFIX = env_str("TIER_ACCESS_LOG_PREFIX")

if AWS_STORAGE_BUCKET_NAME:
    _s3_options = {
        "bucket_name": AWS_STORAGE_BUCKET_NAME,
        "region_name": AWS_S3_REGION_NAME,
        # botocore would otherwise presign some URLs with SigV2, which current S3 regions refuse.
        "signature_version": "s3v4",
        # New AWS buckets disable ACLs: any ACL header makes the request fail.
        "default_acl": None,
        # Keys are generated by pinsite; never silently replace someone else's object.
        "file_overwrite": False,
        "querystring_auth": True,
        "querystring_expire": MEDIA_URL_EXPIRY_SECONDS,
    }
    # Every S3 call gives up within seconds (botocore's defaults are 60 s and five attempts): a
    # hung S3 costs the requests that need it a calm error, and holds no worker for long.
    _s3_timeouts: dict[str, Any] = {
        "connect_timeout": S3_CONNECT_TIMEOUT,
        "read_timeout": S3_READ_TIMEOUT,
        "retries": {"total_max_attempts": S3_MAX_ATTEMPTS, "mode": "standard"},
    }
    _s3_options["client_config"] = BotoConfig(**_s3_timeouts)
    if S3_ENDPOINT_URL:
        _s3_options["endpoint_url"] = S3_ENDPOINT_URL
        # Local S3 servers are reached by address; virtual-host names like bucket.127.0.0.1 don't resolve.
        _s3_options["addressing_style"] = "path"
        # botocore sends streamed checksums (aws-chunked) on HTTPS by default; S3 implementations
        # that predate them (Ceph RGW 16) answer MissingContentLength. Checksums only when required.
        _s3_options["client_config"] = BotoConfig(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            **_s3_timeouts,
        )
    if env_str("AWS_ACCESS_KEY_ID"):
        _s3_options["access_key"] = env_str("AWS_ACCESS_KEY_ID")
        _s3_options["secret_key"] = env_str("AWS_SECRET_ACCESS_KEY")
    # Uploads and downloads in the calling thread: no transfer thread pool per web/worker process.
    _s3_options["transfer_config"] = TransferConfig(use_threads=False)
    MEDIA_STORAGE: dict[str, Any] = {
        "BACKEND": "media.storage.backend.MediaStorage",
        "OPTIONS": _s3_options,
    }
else:
    MEDIA_STORAGE = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "base_url": MEDIA_URL},
    }

# Hashed, compressed static files (run collectstatic first, as `make run` does) unless debugging;
# false serves them from the app folders without collectstatic (the test suite does).
STATIC_MANIFEST = env_bool("DJANGO_STATIC_MANIFEST", default=not DEBUG)
STORAGES: dict[str, dict[str, Any]] = {
    "default": MEDIA_STORAGE,
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if STATIC_MANIFEST
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        ),
    },
}

# Upper bound of an upload accepted through the app (the embedded default's upload path).
MEDIA_MAX_UPLOAD_BYTES = env_int("MEDIA_MAX_UPLOAD_BYTES", 50 * 1024 * 1024)
# Bytes of originals one person may keep (0: no limit); checked when an upload starts and ends.
MEDIA_QUOTA_BYTES = env_int("MEDIA_QUOTA_BYTES", 2 * 1024**3)
# Hours an uploaded file may stay unused by any pin or avatar before it is deleted.
MEDIA_UNPUBLISHED_GRACE_HOURS = env_int("MEDIA_UNPUBLISHED_GRACE_HOURS", 24)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Email ---------------------------------------------------------------------------------------

EMAIL_URL = env_str("EMAIL_URL")
if EMAIL_URL:
    _email = urlsplit(EMAIL_URL)
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _email.hostname or "localhost"
    EMAIL_PORT = _email.port or 587
    EMAIL_HOST_USER = _email.username or ""
    EMAIL_HOST_PASSWORD = _email.password or ""
    EMAIL_USE_TLS = _email.scheme == "smtp+tls"
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "pinsite <noreply@localhost>")

# --- Security ------------------------------------------------------------------------------------

SESSION_COOKIE_HTTPONLY = True
# Sessions live in the database and are read through the cache: a signed-in page reads its
# session from Redis (the database only when Redis misses or is down) instead of one query each.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
# Scripts take the token from the page's csrf-token meta tag, never from the cookie.
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)


def _media_origins() -> list[str]:
    """Where pages load media from besides the site itself: the S3 endpoint or bucket in use."""
    if not AWS_STORAGE_BUCKET_NAME:
        return []  # local media comes from /media/ on the site
    if S3_ENDPOINT_URL:
        endpoint = urlsplit(S3_ENDPOINT_URL)
        return [f"{endpoint.scheme}://{endpoint.netloc}"]
    if AWS_STORAGE_BUCKET_NAME.startswith("arn:"):
        return [f"https://*.s3-accesspoint.{AWS_S3_REGION_NAME}.amazonaws.com"]
    # Signed reads name the region; browser uploads post to the global name.
    return [
        f"https://{AWS_STORAGE_BUCKET_NAME}.s3.{AWS_S3_REGION_NAME}.amazonaws.com",
        f"https://{AWS_STORAGE_BUCKET_NAME}.s3.amazonaws.com",
    ]


# What pages may load and from where (pinsite/security.py says why each part is there).
_media = " ".join(["'self'", *_media_origins()])
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "style-src-attr 'unsafe-inline'",
        f"img-src {_media} data:",
        f"media-src {_media}",
        f"connect-src {_media}",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "camera",
        "microphone",
        "geolocation",
        "payment",
        "usb",
        "serial",
        "midi",
        "magnetometer",
        "gyroscope",
        "accelerometer",
        "display-capture",
    )
)

# --- Logging -------------------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Rate limits (pinsite/ratelimit.py) ------------------------------------------------------------


def env_rate(name: str, default: str) -> tuple[int, int]:
    """``count/seconds`` from the environment, e.g. ``10/900``; ``0`` turns the limit off."""
    raw = env_str(name, default)
    count, _, seconds = raw.partition("/")
    try:
        return (int(count), int(seconds or 1)) if int(count) > 0 else (0, 0)
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be count/seconds like 10/900, not {raw!r}"
        ) from None


RATE_LIMITS_ENABLED = env_bool("RATE_LIMITS_ENABLED", default=True)
RATE_LIMITS = {
    # Wrong passwords per account and per client IP; past the count, log-in is locked until the
    # window ends, even with the right password.
    "login_account": env_rate("RATE_LIMIT_LOGIN_ACCOUNT", "10/900"),
    "login_ip": env_rate("RATE_LIMIT_LOGIN_IP", "50/900"),
    "signup_ip": env_rate("RATE_LIMIT_SIGNUP_IP", "10/3600"),
    "password_reset_email": env_rate("RATE_LIMIT_PASSWORD_RESET_EMAIL", "3/3600"),
    "password_reset_ip": env_rate("RATE_LIMIT_PASSWORD_RESET_IP", "20/3600"),
    # Upload requests (through the app, start and confirm of a direct upload) per person.
    "upload": env_rate("RATE_LIMIT_UPLOAD", "300/3600"),
    # Search pages per person (or client IP when logged out).
    "search": env_rate("RATE_LIMIT_SEARCH", "120/60"),
    "report": env_rate("RATE_LIMIT_REPORT", "20/3600"),
}
# The request header (Django's META name) a proxy in front sets to the client's address.
RATE_LIMIT_CLIENT_IP_HEADER = env_str("RATE_LIMIT_CLIENT_IP_HEADER")
# Seconds an SMTP connection may take to connect or answer (sign-up and password-reset mails are
# sent during the request).
EMAIL_TIMEOUT = env_seconds("EMAIL_TIMEOUT", 10)
