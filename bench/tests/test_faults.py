"""The fault drill's bookkeeping (bench/faults.py), fed by hand: windows, uploads, after-figures.
The drill itself is run by ``make drill``; no timing is asserted here."""

from __future__ import annotations

from bench.faults import (
    Journal,
    Sample,
    Upload,
    after_figures,
    media_check_counts,
    upload_figures,
    window_figures,
)


def test_each_window_counts_only_the_requests_started_in_it():
    journal = Journal()
    for n in range(100):
        journal.page(Sample(began=float(n), seconds=0.010, ok=True))  # baseline: 0-99
    for n in range(100, 150):
        journal.page(Sample(began=float(n), seconds=0.020 if n % 10 else 2.0, ok=n % 25 != 0))
    journal.page(Sample(began=150.0, seconds=9.0, ok=False))  # after the window: not counted

    figures = window_figures(journal.pages_between(100, 150), journal.pages_between(0, 100))
    assert figures["requests"] == 50
    assert figures["failed"] == 2  # 100 and 125
    assert figures["p50_ms"] == 20.0
    assert figures["p99_ms"] == 2000.0
    assert figures["baseline_requests"] == 100
    assert figures["baseline_p50_ms"] == figures["baseline_p99_ms"] == 10.0
    assert window_figures([], [])["p50_ms"] is None


def test_uploads_are_accepted_refused_calmly_or_failed():
    uploads = [
        Upload(1.0, 201, asset_id=7),
        Upload(2.0, 503, calm=True),
        Upload(3.0, 500),
        Upload(4.0, 0),
    ]
    assert upload_figures(uploads) == {"sent": 4, "accepted": 1, "refused_calmly": 1, "failed": 2}


def test_after_figures_name_missing_objects_orphans_stuck_assets_and_lost_uploads():
    figures = after_figures(
        referenced={"originals/a.jpg", "renditions/a/1.webp", "originals/b.jpg"},
        stored={"originals/a.jpg", "renditions/a/1.webp", "renditions/old/1.webp"},
        accepted_ids={1, 2, 3},
        assets={
            1: ("ready", "originals/a.jpg"),
            2: ("pending", "originals/b.jpg"),  # stuck, and its original is gone: lost
            4: ("processing", "originals/a.jpg"),
        },  # 3 has no row: lost
        window_ids={2, 3},
    )
    assert figures == {
        "rows_missing_objects": 1,
        "orphan_objects": 1,
        "assets_stuck": 2,
        "assets_stuck_from_window": 1,
        "uploads_lost": 2,
    }


def test_media_check_counts_are_read_from_its_report_or_its_error():
    report = (
        "Checked 120 objects, 40 assets and 80 renditions in 0.3 s.\n"
        "  Assets whose original is no longer stored: 0\n"
        "  Renditions whose object is no longer stored: 3\n"
        "      e.g. renditions/ab/cd/236.webp\n"
        "  Objects no row refers to (older than the grace period): 2\n"
        "  Assets pending or processing for too long: 0\n"
    )
    assert media_check_counts(report, "CommandError: 5 problem(s) left; see above") == {
        "Assets whose original is no longer stored": 0,
        "Renditions whose object is no longer stored": 3,
        "Objects no row refers to (older than the grace period)": 2,
        "Assets pending or processing for too long": 0,
    }
    refused = "CommandError: storage is not answering, nothing was changed: timeout"
    assert media_check_counts("", refused) == {"error": refused}
