"""Settings switch by environment alone. Each case imports the settings in a fresh process."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from stack.pytest_plugin import settings_variables

REPO = Path(__file__).resolve().parents[2]
PROBE = """
import json
from django.conf import settings
print(json.dumps({
    "databases": {alias: {"ENGINE": c["ENGINE"], "NAME": str(c["NAME"]), "HOST": c.get("HOST", ""),
                          "PORT": str(c.get("PORT", "")), "MIRROR": c.get("TEST", {}).get("MIRROR")}
                  for alias, c in settings.DATABASES.items()},
    "storage": settings.STORAGES["default"]["BACKEND"],
    "storage_options": {k: v for k, v in settings.STORAGES["default"]["OPTIONS"].items()
                        if k != "secret_key"},
    "broker": settings.CELERY_BROKER_URL,
    "cache": settings.CACHES["default"]["BACKEND"],
    "debug": settings.DEBUG,
    "static": settings.STORAGES["staticfiles"]["BACKEND"],
    "replicas": settings.REPLICA_ALIASES,
}, default=str))
"""


def run_with(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in settings_variables()}
    clean["DJANGO_SETTINGS_MODULE"] = "pinsite.settings"
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def settings_with(env: dict[str, str]) -> dict:
    done = run_with(env, "-c", f"import django; django.setup(); {PROBE}")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_nothing_set_is_the_embedded_default(tmp_path):
    found = settings_with({"PINSITE_VAR_DIR": str(tmp_path)})
    assert found["databases"] == {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(tmp_path / "db.sqlite3"),
            "HOST": "",
            "PORT": "",
            "MIRROR": None,
        }
    }
    assert found["storage"] == "django.core.files.storage.FileSystemStorage"
    assert found["storage_options"]["location"] == str(tmp_path / "media")
    assert found["broker"] == "filesystem://"
    assert (tmp_path / "celery" / "queue").is_dir()
    assert found["cache"].endswith("LocMemCache")
    # Safe to expose as it comes: no debug page, hashed static files (make run collects them).
    assert found["debug"] is False
    assert found["static"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"


def test_debug_is_on_only_when_asked_for(tmp_path):
    found = settings_with({"PINSITE_VAR_DIR": str(tmp_path), "DJANGO_DEBUG": "true"})
    assert found["debug"] is True
    assert found["static"] == "django.contrib.staticfiles.storage.StaticFilesStorage"


SECRET_KEY_PROBE = (
    "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)"
)


def test_the_embedded_default_makes_its_secret_key_once_and_keeps_it(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in settings_variables()}
    env.update(PINSITE_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="pinsite.settings")
    # Web and worker start at the same moment: they must agree on one key.
    starting = [
        subprocess.Popen(
            [sys.executable, "-c", SECRET_KEY_PROBE],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    keys = {process.communicate(timeout=60)[0].strip() for process in starting}
    assert len(keys) == 1
    key = keys.pop()
    assert len(key) >= 50
    kept = tmp_path / "secret_key"
    assert kept.read_text().strip() == key
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if "secret_key" in p.name] == ["secret_key"]
    again = run_with({"PINSITE_VAR_DIR": str(tmp_path)}, "-c", SECRET_KEY_PROBE)
    assert again.stdout.strip() == key
    other_site = run_with({"PINSITE_VAR_DIR": str(tmp_path / "other")}, "-c", SECRET_KEY_PROBE)
    assert other_site.stdout.strip() not in {"", key}
    given = run_with(
        {"PINSITE_VAR_DIR": str(tmp_path), "DJANGO_SECRET_KEY": "g" * 60}, "-c", SECRET_KEY_PROBE
    )
    assert given.stdout.strip() == "g" * 60


def test_a_damaged_kept_secret_key_stops_start_up(tmp_path):
    (tmp_path / "secret_key").write_text("short\n")
    done = run_with({"PINSITE_VAR_DIR": str(tmp_path)}, "manage.py", "check")
    assert done.returncode != 0
    assert "holds no usable secret key" in done.stderr


def test_real_stack_variables_switch_every_part(tmp_path):
    replicas = [f"postgres://reader@10.0.0.{n}:5432/pinsite" for n in (2, 3)]
    found = settings_with(
        {
            "PINSITE_VAR_DIR": str(tmp_path),
            "DATABASE_URL": "postgres://writer:pw@10.0.0.1:5433/pinsite",
            "DATABASE_REPLICA_URLS": ",".join(replicas),
            "REDIS_URL": "redis://10.0.0.9:6379/0",
            "AWS_STORAGE_BUCKET_NAME": "pins-bucket",
            "S3_ENDPOINT_URL": "http://10.0.0.8:9000",
        }
    )
    databases = found["databases"]
    assert databases["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert (databases["default"]["HOST"], databases["default"]["PORT"]) == ("10.0.0.1", "5433")
    assert found["replicas"] == ["replica_1", "replica_2"]
    assert databases["replica_2"]["HOST"] == "10.0.0.3"
    assert databases["replica_1"]["MIRROR"] == "default"
    assert found["storage"] == "media.storage.backend.MediaStorage"
    options = found["storage_options"]
    assert options["bucket_name"] == "pins-bucket"
    assert options["endpoint_url"] == "http://10.0.0.8:9000"
    assert options["signature_version"] == "s3v4"
    assert options["file_overwrite"] is False
    assert options["default_acl"] is None
    assert found["broker"] == "redis://10.0.0.9:6379/0"
    assert found["cache"].endswith("RedisCache")
    assert not (tmp_path / "db.sqlite3").exists()


def test_a_separate_broker_url_wins_over_redis_url():
    found = settings_with({"REDIS_URL": "redis://a:1/0", "CELERY_BROKER_URL": "redis://b:2/1"})
    assert found["broker"] == "redis://b:2/1"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {
                "DATABASE_URL": "postgres://w@h/db",
                "DATABASE_REPLICA_URLS": ",".join(f"postgres://r@h{n}/db" for n in range(16)),
            },
            "up to 15",
        ),
        ({"DATABASE_REPLICA_URLS": "postgres://r@h/db"}, "needs DATABASE_URL"),
        (
            {
                "DATABASE_URL": "postgres://w@h/db",
                "DATABASE_REPLICA_URLS": "postgres://r@h1/db",
                "REPLICA_PIN_SECONDS": "1",
            },
            "REPLICA_PIN_SECONDS must be at least",
        ),
        (
            {
                "DATABASE_URL": "postgres://w@h/db",
                "DATABASE_REPLICA_URLS": "postgres://r@h1/db,postgres://r@h2/db",
                "DATABASE_REPLICA_WEIGHTS": "2",
            },
            "one weight per URL",
        ),
        ({"REPLICA_MAX_LAG": "soon"}, "REPLICA_MAX_LAG must be a number of seconds"),
        ({"DJANGO_ENV": "staging"}, "DJANGO_ENV must be"),
        ({"TIERING_PRICES": "cheap"}, "TIERING_PRICES is not a usable price table"),
        ({"TIERING_PRICES": '{"STANDARD": {"storage": 1}}'}, "unknown price field"),
        ({"TIER_ACCESS_REDIS_TIMEOUT": "fast"}, "TIER_ACCESS_REDIS_TIMEOUT must be a number"),
        ({"S3_READ_TIMEOUT": "slow"}, "S3_READ_TIMEOUT must be a number of seconds"),
        ({"S3_MAX_ATTEMPTS": "0"}, "S3_MAX_ATTEMPTS must be from 1 to 10"),
        ({"DJANGO_DEBUG": "maybe"}, "DJANGO_DEBUG must be true or false"),
        ({"DJANGO_ENV": "production"}, "DJANGO_SECRET_KEY must be set"),
        ({"DJANGO_ENV": "production", "DJANGO_SECRET_KEY": "x" * 60}, "DJANGO_ALLOWED_HOSTS"),
    ],
)
def test_bad_configuration_stops_start_up_with_a_clear_message(env, message, tmp_path):
    done = run_with({"PINSITE_VAR_DIR": str(tmp_path), **env}, "manage.py", "check")
    assert done.returncode != 0
    assert message in done.stderr


PRODUCTION = {
    "DJANGO_ENV": "production",
    "DJANGO_SECRET_KEY": "k3x!9v" * 10,
    "DJANGO_ALLOWED_HOSTS": "pins.example.com",
    "DATABASE_URL": "postgres://writer@db.example.com:5432/pinsite",
    "REDIS_URL": "redis://cache.example.com:6379/0",
    "AWS_STORAGE_BUCKET_NAME": "pinsite-media",
}


def test_production_settings_pass_the_deploy_check():
    done = run_with(PRODUCTION, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode == 0, done.stderr + done.stdout
    assert "no issues" in done.stdout


def test_the_deploy_check_catches_a_weakened_production_setting():
    done = run_with(
        {**PRODUCTION, "DJANGO_SECURE_HSTS_SECONDS": "0"},
        "manage.py",
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert done.returncode != 0
    assert "security.W004" in done.stderr + done.stdout


def test_env_example_lists_every_variable_the_settings_read():
    source = (REPO / "pinsite" / "settings.py").read_text()
    read = set(re.findall(r'env_(?:str|bool|int|list|seconds)\("([A-Z0-9_]+)"', source))
    assert read, "the pattern no longer matches how settings.py reads variables"
    assert read <= set(settings_variables())
