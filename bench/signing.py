"""Signed media URLs per 50-pin page, and the app's CPU per direct-upload start and confirmation.

Run by ``make bench`` against the bench stack's S3 server (moto) and PostgreSQL; prints one JSON
line. A grid card needs five URLs (three srcset widths, src, large view): 250 per page.

* ``ms_per_page_cold``: pinsite's signer in a new time window (nothing cached but the day's key).
* ``ms_per_page_warm``: the same page again in the same window (what most page views see).
* ``plain_url_ms_per_page``: django-storages' ``url()`` (botocore's presigner) for the same keys.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from pathlib import Path

PINS_PER_PAGE = 50
WIDTHS = (236, 474, 736)


def _page_keys() -> list[str]:
    keys = []
    for _ in range(PINS_PER_PAGE):
        stem = uuid.uuid4().hex
        grid = [f"renditions/{stem[:2]}/{stem}/grid-{w}.webp" for w in WIDTHS]
        keys += [*grid, grid[0], f"renditions/{stem[:2]}/{stem}/large-1472.webp"]
    return keys


def _ms(function, repeats: int) -> list[float]:
    samples = []
    for _ in range(repeats):
        began = time.perf_counter()
        function()
        samples.append((time.perf_counter() - began) * 1000)
    return samples


def run(*, quick: bool) -> dict:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pinsite.settings")
    django.setup()
    import requests
    from django.core.files.storage import default_storage

    from accounts.models import User
    from bench.results import summary
    from media import services, storage
    from media.storage import signing

    repeats = 5 if quick else 25
    keys = _page_keys()

    def ours_cold():
        signing._signed_url_cached.cache_clear()
        for key in keys:
            storage.url_for(key=key)

    def ours_warm():
        for key in keys:
            storage.url_for(key=key)

    def plain():
        for key in keys:
            default_storage.url(key)

    storage.url_for(key=keys[0])  # credentials and the day's signing key, once per process
    plain()
    cold, warm, baseline = _ms(ours_cold, repeats), [], _ms(plain, repeats)
    ours_warm()
    warm = _ms(ours_warm, repeats)

    user, _ = User.objects.get_or_create(username="bench-uploader")
    photo = (Path(__file__).resolve().parent.parent / "demo" / "photos" / "Path.jpg").read_bytes()
    start_cpu, confirm_cpu = [], []
    for _ in range(3 if quick else 10):
        began = time.process_time()
        pending, form = services.upload_start(owner=user)
        start_cpu.append((time.process_time() - began) * 1000)
        fields = {**form["fields"], "Content-Type": "image/jpeg"}
        requests.post(form["url"], data=fields, files={"file": ("x", photo)}, timeout=30)
        began = time.process_time()
        asset = services.upload_confirm(owner=user, upload_id=pending.pk)
        confirm_cpu.append((time.process_time() - began) * 1000)
        # The next round uploads the same bytes: keep it a new asset, not a duplicate.
        asset.pins.all().delete()
        storage.delete_keys(keys=[asset.original_key])
        asset.delete()

    cold_s, warm_s, plain_s = summary(cold), summary(warm), summary(baseline)
    return {
        "urls_per_page": len(keys),
        "ms_per_page_cold": cold_s["median"],
        "ms_per_page_warm": warm_s["median"],
        "plain_url_ms_per_page": plain_s["median"],
        "speedup_cold_vs_plain": round(plain_s["median"] / cold_s["median"], 1),
        "speedup_warm_vs_plain": round(plain_s["median"] / warm_s["median"], 1),
        "spread": {"cold": cold_s, "warm": warm_s, "plain": plain_s},
        "upload_start_cpu_ms": summary(start_cpu)["median"],
        "upload_confirm_cpu_ms": summary(confirm_cpu)["median"],
        "upload_confirm_file_bytes": len(photo),
        "baseline": "django-storages S3Storage.url() (botocore presign), same keys, same process",
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    print(json.dumps(run(quick=parser.parse_args().quick)))
