"""Smoke test of the page cache benchmark on tiny data, so the harness cannot rot.

The scripted workload runs in process on the session's PostgreSQL and Redis. Only the shape of
the figures is checked, and one property: the scoped stamps never retire more than the single
stamp did, so the same workload cannot hit less often with them.
"""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from bench import cache, seed_bulk
from pins.models import Pin

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_cache_harness_produces_well_formed_figures(settings, services):
    call_command(
        seed_bulk.Command(), users=8, boards=24, pins=240, sample_bytes=0, stdout=io.StringIO()
    )
    services.wait_replicas_caught_up()
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    pins_before = Pin.objects.count()
    chosen = cache.targets()
    assert chosen["viewers"] and chosen["writers"]
    figures = cache.measure(chosen, views=120, write_every=10)

    for mode in ("unscoped", "scoped", "no_writes"):
        entry = figures[mode]
        assert entry["failed_views"] == 0 and entry["bypasses"] == 0, (mode, entry)
        assert entry["lookups"] > 0, (mode, entry)
        assert 0 <= entry["hit_rate"] <= 1, (mode, entry)
        assert set(entry["per_kind"]) <= {
            "feed",
            "board",
            "profile",
            "search",
            "pin-page",
            "board-search",
        }
        assert sum(kind["lookups"] for kind in entry["per_kind"].values()) == entry["lookups"]
    assert figures["no_writes"]["hit_rate"] >= figures["scoped"]["hit_rate"]
    assert figures["scoped"]["hit_rate"] >= figures["unscoped"]["hit_rate"]
    assert figures["scoped"]["writes"] == figures["unscoped"]["writes"] > 0  # the same script
    assert figures["no_writes"]["writes"] == 0
    assert Pin.objects.count() == pins_before  # what the passes wrote is gone again
