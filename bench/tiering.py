"""The tiering sweep over many asset rows: rows a second, peak memory and S3 calls.

Run by ``make bench`` against the bench stack's PostgreSQL and S3 server (moto); prints one
JSON line. For each size (100,000 and 1,000,000 rows; QUICK: 10,000 and 100,000) the asset table
is emptied and seeded by COPY, then one real sweep runs in a fresh process (so its peak RSS,
``ru_maxrss``, is the sweep's own). The rows are made 200 days ago: one in 4,000 is a cold
300 KB original never read (it moves: its object exists in S3, so every move is a real copy),
a third are cold 50 KB files (under 128 KB: examined, never moved) and the rest are 2 MB files
read yesterday (examined, stay). No renditions are seeded.

* ``rows_per_s_<size>``: asset rows swept a second (S3 copies included).
* ``peak_rss_mb_<size>``: the sweep process's peak RSS (VmHWM); ``baseline_rss_mb_<size>`` is
  the same process after Django's set-up, before the sweep.
* ``growth_time_ratio``: sweep time at the larger size over the smaller (10 means linear).
* ``s3_calls`` / ``objects_moved``: of the larger run (one copy per moved object, plus one
  versioning check per sweep).
"""

from __future__ import annotations

import io
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 1, tzinfo=UTC)
MOVER_EVERY = 4000
MOVER_BYTES = 300 * 1024


def _label(rows: int) -> str:
    return f"{rows // 1_000_000}m" if rows >= 1_000_000 else f"{rows // 1000}k"


def _setup() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pinsite.settings")
    django.setup()


def _seed(rows: int) -> list[str]:
    """Empty the asset table and COPY ``rows`` fresh rows in; returns the movers' keys."""
    from django.db import connection

    from media.models import MediaAsset

    table = MediaAsset._meta.db_table
    created = (NOW - timedelta(days=200)).isoformat()
    yesterday = (NOW - timedelta(days=1)).isoformat()
    run = uuid.uuid4().hex[:8]
    columns = [
        "kind", "original_key", "content_hash", "byte_size", "format", "width", "height",
        "status", "interrupted_runs", "failure_reason", "dominant_color", "placeholder",
        "storage_tier", "last_accessed_at", "read_rate", "reads_total", "tier_pinned",
        "tier_excluded", "created_at", "updated_at",
    ]  # fmt: skip
    movers = []
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {table} RESTART IDENTITY CASCADE")
    raw = connection.connection
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        buffer = io.StringIO()
        for index in range(rows):
            key = f"originals/bench/{run}/{index:07d}.jpg"
            if index % MOVER_EVERY == 0:
                size, accessed, rate = MOVER_BYTES, "\\N", 0.0
                movers.append(key)
            elif index % 3 == 0:
                size, accessed, rate = 50 * 1024, "\\N", 0.0
            else:
                size, accessed, rate = 2 * 1024 * 1024, yesterday, 3.0
            buffer.write(
                f"image\t{key}\t\t{size}\tjpeg\t800\t600\tready\t0\t\t\t\tSTANDARD\t{accessed}\t"
                f"{rate}\t0\t\tf\t{created}\t{created}\n"
            )
            if index % 50_000 == 49_999:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())
    raw.commit()
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {table}")
    return movers


def _store(keys: list[str]) -> None:
    from media import storage

    body = b"x" * MOVER_BYTES
    for key in keys:
        storage.put_bytes(key=key, data=body, fmt="jpeg")


def _high_water_kib() -> int:
    """This process's peak RSS (VmHWM). Not ``ru_maxrss``: Linux carries that across execve
    from the parent, which had just seeded the rows."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def sweep_child() -> None:
    """In a fresh process: one real sweep; prints its figures and this process's peak RSS."""
    _setup()
    from tiering.sweep import tiering_sweep

    baseline_kib = _high_water_kib()
    began = time.perf_counter()
    sweep = tiering_sweep(now=NOW)
    seconds = time.perf_counter() - began
    print(
        json.dumps(
            {
                "seconds": seconds,
                "examined": sweep.examined,
                "moved": sweep.moved,
                "s3_calls": sweep.s3_calls,
                "status": sweep.status,
                "baseline_kib": baseline_kib,
                "peak_kib": _high_water_kib(),
            }
        )
    )


def run(*, quick: bool) -> dict:
    _setup()
    from tiering.models import TieringPolicy

    TieringPolicy.objects.update_or_create(pk=1, defaults={"mode": TieringPolicy.Mode.APP})
    sizes = (10_000, 100_000) if quick else (100_000, 1_000_000)
    figures: dict = {"sizes": list(sizes), "batch_size": TieringPolicy.objects.get().batch_size}
    times = []
    for rows in sizes:
        began = time.perf_counter()
        movers = _seed(rows)
        seeded = time.perf_counter() - began
        _store(movers)
        done = subprocess.run(
            [sys.executable, "-c", "import bench.tiering as t; t.sweep_child()"],
            cwd=REPO,
            env={**os.environ, "DJANGO_DEBUG": "false"},  # no query log, as in production
            capture_output=True,
            text=True,
            check=True,
        )
        child = json.loads(done.stdout.strip().splitlines()[-1])
        if child["status"] != "done" or child["moved"] != len(movers):
            raise RuntimeError(f"the sweep did not move what it should: {child} {done.stderr}")
        label = _label(rows)
        times.append(child["seconds"])
        figures[f"seed_rows_per_s_{label}"] = round(rows / seeded)
        figures[f"sweep_seconds_{label}"] = round(child["seconds"], 2)
        figures[f"rows_per_s_{label}"] = round(rows / child["seconds"])
        figures[f"peak_rss_mb_{label}"] = round(child["peak_kib"] / 1024, 1)
        figures[f"baseline_rss_mb_{label}"] = round(child["baseline_kib"] / 1024, 1)
        figures["s3_calls"] = child["s3_calls"]
        figures["objects_moved"] = child["moved"]
        figures["objects_examined"] = child["examined"]
    figures["growth_rows_ratio"] = sizes[1] / sizes[0]
    figures["growth_time_ratio"] = round(times[1] / times[0], 2)
    return figures


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv)))
