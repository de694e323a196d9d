"""Smoke test of the pages benchmark on tiny data, so the harness cannot rot.

The measurement functions run against pytest-django's live server on the session's PostgreSQL
(with its readers), with the bench's URLs (the naive baseline under /naive/) and query counter.
Only the shape of the figures is checked, never a timing.
"""

from __future__ import annotations

import io
import threading

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

from bench import pages, seed_bulk

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def bench_site(settings, services):
    """A threaded server on a free port with the bench's URLs and middleware (the live server's
    handler loads its middleware once, before a test could change them)."""
    settings.ROOT_URLCONF = "bench.naive_urls"
    settings.MIDDLEWARE = ["bench.query_count.QueryCountMiddleware", *settings.MIDDLEWARE]
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    call_command(
        seed_bulk.Command(), users=8, boards=24, pins=240, sample_bytes=0, stdout=io.StringIO()
    )
    services.wait_replicas_caught_up()
    server = ThreadedWSGIServer(("127.0.0.1", 0), WSGIRequestHandler)
    server.set_app(WSGIHandler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    server.server_close()


def test_pages_harness_produces_well_formed_figures(bench_site, monkeypatch):
    monkeypatch.setattr(pages, "DRAIN_LIMIT_S", 2.0)  # tiny pages leave little running
    port = bench_site
    chosen = pages.targets()
    assert chosen["follows"] > 0
    figures = pages.measure(
        port, chosen, seconds=0.2, runs=1, warmup=0.05, deep_budget=10, repeats=2, concurrency=2
    )

    for page in pages.PAGES:
        entry = figures[page]
        for key in ("p50_ms", "p99_ms", "rps", "p99_ms_c16", "naive_rps", "speedup_rps"):
            assert isinstance(entry[key], float) and entry[key] > 0, (page, key, entry)
        assert entry["failed_requests"] == 0 == entry["naive_failed_requests"], (page, entry)
        assert entry["pins_on_page"] > 0 and entry["naive_pins_on_page"] > 0, (page, entry)
        # The baseline really is naive: its queries grow with the cards, ours do not.
        assert entry["naive_queries"] > entry["queries"] > 0, (page, entry)

    feed = figures["deep_pagination"]["feed"]
    assert feed["page"] > 1  # the feed's own "next" links were followed
    assert feed["page_1_p50_ms"] > 0 and feed["page_n_p50_ms"] > 0
    assert figures["deep_pagination"]["board"]["naive_page_n_p50_ms"] > 0
    search = figures["search_figures"]
    assert search["requests"] > 0 and search["p99_ms"] >= search["p50_ms"] > 0

    query = search["queries"][0]
    plan = pages.search_plan(chosen["person"], query)
    assert "Execution Time" in plan["plan"] and plan["query"] == query
    assert isinstance(plan["uses_gin_index"], bool)


def test_next_page_reads_the_pages_own_link():
    body = '<a class="button" data-more href="?cursor=abc&amp;x=1" rel="next">More</a>'
    assert pages.next_page("/boards/a/b/", body) == "/boards/a/b/?cursor=abc&x=1"
    assert pages.next_page("/", "<p>no more</p>") is None
