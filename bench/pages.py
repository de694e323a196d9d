"""The hot pages at scale: home feed, board, pin, search and profile on a million seeded pins.

Run by ``make bench`` (``python -m bench --only pages [--quick]``) on the bench stack (PostgreSQL
primary + 2 streaming readers, Redis, S3); prints one JSON line with the ``pages``, ``search``
and ``seed_seconds`` figures.

* Data: ``bench.seed_bulk`` into a database of its own (``pinsite_pages``; QUICK:
  ``pinsite_pages_quick`` with a few thousand pins), kept between runs: a database that already
  holds the same counts is reused and its seeding time reported from the run that made it.
* gunicorn (replicas.Gunicorn: 2 gthread workers x 4 threads, DEBUG off) with ``bench.settings``:
  the site's URLs plus the naive baseline under ``/naive/`` (``bench/naive_views.py``) and a
  query counter that answers only requests asking for it.
* Each page is requested as one signed-in person who follows people (the one following the
  most), going round several targets (the largest public boards, the most saved pins, two-word
  queries, the busiest profiles). One client: p50/p99; 16 clients: throughput and p99; the
  naive page the same way in the same run; ``speedup_rps`` = ours / naive at 16 clients.
  ``queries`` is what one warm request ran on all databases.
* Deep pagination: page 1 against page N (1,000 when there are that many) of the feed, reached by
  following the page's own "next" links, and of the largest board; the naive pages by OFFSET.
* Search: p99 over the two-word queries, and PostgreSQL's EXPLAIN (ANALYZE, BUFFERS) of the
  search query pinsite ran, with whether it used the GIN index.

One 2-core machine runs gunicorn, PostgreSQL x3, Redis, the S3 server and the load generator at
once: compare the ratios within one run, not absolute figures across machines.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, urljoin

from bench.replicas import Gunicorn, _figures, _load, _percentile, _python

REPO = Path(__file__).resolve().parent.parent
FULL = {"users": 10_000, "boards": 50_000, "pins": 1_000_000}
QUICK = {"users": 300, "boards": 1_500, "pins": 5_000}
CONCURRENCY = 16
STATEMENT_TIMEOUT_S = 10
DRAIN_LIMIT_S = 120.0  # longest wait for the server to finish what a load left running
DEEP_PAGE = 1000
NOTE = (
    "One 2-core machine runs gunicorn (2 workers x 4 threads), PostgreSQL x3 (primary + 2 "
    "readers), Redis, the S3 server and the load generator at once: compare ratios within a run."
)
NEXT_LINK = re.compile(r'<a\b[^>]*\brel="next"[^>]*>')
HREF = re.compile(r'\bhref="([^"]*)"')
PAGES = ("home", "board", "pin", "search", "profile")


def _log(message: str) -> None:
    print(f"[pages] {message}", file=sys.stderr, flush=True)


# --- the database ----------------------------------------------------------------------------


def _database_urls(name: str) -> tuple[str, str]:
    """The shared bench stack's writer and reader URLs, pointed at database ``name``."""
    writer = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/" + name
    readers = ",".join(
        url.rsplit("/", 1)[0] + "/" + name
        for url in os.environ.get("DATABASE_REPLICA_URLS", "").split(",")
        if url
    )
    return writer, readers


def _create_database(name: str, *, fresh: bool) -> None:
    import psycopg

    admin = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if fresh:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [_python(), "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True
    )


# bench.seed_bulk is the benchmarks' own command, not an installed app's: run it with Django set up.
_SEED_BULK = (
    "import sys, django; django.setup(); from bench.seed_bulk import Command; "
    "Command().run_from_argv(['bench', 'seed_bulk', *sys.argv[1:]])"
)


def seed_bulk(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """Run ``bench.seed_bulk`` in its own process with ``env``'s database."""
    return subprocess.run(
        [_python(), "-c", _SEED_BULK, *args], cwd=REPO, env=env, capture_output=True, text=True
    )


def seed(env: dict[str, str], name: str, sizes: dict[str, int]) -> dict:
    """Migrate and seed database ``name`` (reusing it when it holds ``sizes``); the seed figures."""
    from bench.results import RESULTS_DIR

    record = RESULTS_DIR / f"seed-{name}.json"
    for attempt in ("reuse", "fresh"):
        _create_database(name, fresh=attempt == "fresh")
        migrated = _manage(env, "migrate", "-v", "0")
        if migrated.returncode != 0:
            raise RuntimeError(f"migrate failed:\n{migrated.stderr[-3000:]}")
        arguments = [f"--{key}={value}" for key, value in sizes.items()]
        done = seed_bulk(env, *arguments, "--sample-bytes", "100")
        if done.returncode == 0:
            break
        if attempt == "fresh" or "already holds" not in done.stderr:
            raise RuntimeError(f"seed_bulk failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
        _log(f"{name} holds other counts; seeding it afresh")
    _log(done.stdout.strip())
    timed = re.search(r"seed_seconds=([\d.]+)", done.stdout)
    assert timed is not None, done.stdout
    seconds = float(timed.group(1))
    if "Already seeded" in done.stdout and record.exists():
        figures = {**json.loads(record.read_text()), "reused": True, "check_seconds": seconds}
    else:
        figures = {"seed_seconds": seconds, **sizes, "reused": False}
        record.write_text(json.dumps(figures))
    return figures


# --- HTTP ------------------------------------------------------------------------------------


def _get(port: int, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        conn.close()


def log_in(port: int, username: str, password: str) -> dict[str, str]:
    """Headers of a signed-in session, made through the real login form."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", "/accounts/login/")
        response = conn.getresponse()
        page = response.read().decode()
        cookie = re.search(r"csrftoken=([^;]+)", response.getheader("Set-Cookie", ""))
        field = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert cookie is not None and field is not None, "no CSRF token on the login page"
        csrf, token = cookie.group(1), field.group(1)
        body = f"username={quote_plus(username)}&password={quote_plus(password)}"
        body += f"&csrfmiddlewaretoken={token}"
        conn.request(
            "POST",
            "/accounts/login/",
            body=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": f"csrftoken={csrf}",
                "Referer": f"http://127.0.0.1:{port}/accounts/login/",
            },
        )
        response = conn.getresponse()
        response.read()
        cookies = " ".join(response.headers.get_all("Set-Cookie") or [])
        session = re.search(r"sessionid=([^;]+)", cookies)
        if response.status != 302 or session is None:
            raise RuntimeError(f"logging in as {username} failed ({response.status})")
        return {"Cookie": f"csrftoken={csrf}; sessionid={session.group(1)}"}
    finally:
        conn.close()


def queries(port: int, path: str, headers: dict[str, str]) -> tuple[int, int] | tuple[None, None]:
    """(SQL queries, pins on the page) of one request, as the server counted them; (None, None)
    when the page failed (a naive page past the statement timeout, say)."""
    try:
        status, answer, body = _get(port, path, {**headers, "X-Bench-Count-Queries": "1"})
    except OSError:
        return None, None
    if status != 200:
        return None, None
    return int(answer["X-Bench-Queries"]), body.count("data-pin=")


def next_page(path: str, body: str) -> str | None:
    """The page's own link to the next page (``rel="next"``), as a path; None on the last page."""
    link = NEXT_LINK.search(body)
    if link is None:
        return None
    href = HREF.search(link.group(0))
    return urljoin(path, href.group(1).replace("&amp;", "&")) if href else None


def follow_pages(
    port: int, path: str, headers: dict[str, str], pages: int, seconds: float
) -> tuple[int, str]:
    """Follow "next" links from ``path`` towards page ``pages``; (page reached, its path)."""
    deadline = time.monotonic() + seconds
    reached, current = 1, path
    while reached < pages and time.monotonic() < deadline:
        try:
            status, _, body = _get(port, current, headers)
        except OSError:
            break
        following = next_page(current, body) if status == 200 else None
        if following is None:
            break
        reached, current = reached + 1, following
    return reached, current


def latency_ms(port: int, path: str, headers: dict[str, str], repeats: int) -> dict:
    """Median latency of ``repeats`` requests for ``path``, one after another on one connection."""
    latencies, failed = [], 0
    for _ in range(repeats):
        began = time.monotonic()
        try:
            status, _, _ = _get(port, path, headers)
        except OSError:
            status = None
        if status == 200:
            latencies.append(time.monotonic() - began)
        else:
            failed += 1
    return {
        "p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
        "failed_requests": failed,
    }


def drain(port: int, limit: float | None = None) -> float:
    """Wait until the server is idle again (requests a load abandoned at its deadline or on a
    client timeout still run there): 8 /healthz at once, one per server thread, all answered
    within half a second. Returns the seconds waited."""
    from concurrent.futures import ThreadPoolExecutor

    began = time.monotonic()
    limit = DRAIN_LIMIT_S if limit is None else limit

    def quick_answer(_) -> bool:
        started = time.monotonic()
        try:
            status, _, _ = _get(port, "/healthz", {})
        except OSError:
            return False
        return status == 200 and time.monotonic() - started < 0.5

    with ThreadPoolExecutor(8) as pool:
        while time.monotonic() - began < limit:
            if all(pool.map(quick_answer, range(8))):
                break
            time.sleep(0.5)
    return round(time.monotonic() - began, 1)


# --- targets ---------------------------------------------------------------------------------


def targets() -> dict:
    """Who signs in and which URLs each page goes round, chosen from the seeded data."""
    from django.db.models import Count

    from accounts.models import User
    from bench.seed_bulk import SEED_PASSWORD, WORDS
    from boards.models import Board
    from pins.models import Pin

    person = (
        User.objects.annotate(follows=Count("following_users")).order_by("-follows", "id").first()
    )
    assert person is not None, "the database holds nobody: seed it first"
    boards = list(
        Board.objects.filter(is_secret=False)
        .annotate(size=Count("placements"))
        .select_related("owner")
        .order_by("-size", "id")[:10]
    )
    pins = list(
        Pin.objects.visible_to(None)
        .filter(parent=None)
        .annotate(saved=Count("saves"))
        .order_by("-saved", "id")
        .values_list("pk", flat=True)[:20]
    )
    people = list(
        User.objects.annotate(made=Count("pins"))
        .order_by("-made", "id")
        .values_list("username", flat=True)[:10]
    )
    # Two-word queries from the more common words: hits from dozens to many thousands.
    pairs = [(WORDS[(3 * n) % 40], WORDS[(7 * n + 11) % 60]) for n in range(12)]
    words = [f"{a}+{b}" for a, b in pairs if a != b]
    return {
        "username": person.username,
        "password": SEED_PASSWORD,
        "follows": person.follows,
        "person": person,
        "largest_board": {"size": boards[0].size, "path": _board_path(boards[0])},
        "paths": {
            "home": ["/"],
            "board": [_board_path(board) for board in boards],
            "pin": [f"/pin/{pk}/" for pk in pins],
            "search": [f"/search/?q={query}" for query in words],
            "profile": [f"/people/{username}/" for username in people],
        },
    }


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if not numerator or not denominator:
        return None
    return round(numerator / denominator, 2)


def _board_path(board) -> str:
    return f"/boards/{board.owner.username}/{board.slug}/"


def _naive(path: str) -> str:
    return "/naive" + path


# --- measurements ----------------------------------------------------------------------------


def measure_page(
    port: int, paths: list[str], headers: dict, seconds: float, concurrency: int = CONCURRENCY
) -> dict:
    """One client (p50/p99) and ``concurrency`` clients (rps, p99) over ``paths`` for ``seconds``."""
    single = _load(port, seconds, paths=tuple(paths), clients=1, headers=headers)
    drain(port)
    loaded = _load(port, seconds, paths=tuple(paths), clients=concurrency, headers=headers)
    drained = drain(port)
    one, many = _figures(single, seconds), _figures(loaded, seconds)
    return {
        "p50_ms": one["p50_ms"],
        "p99_ms": one["p99_ms"],
        "rps": many["throughput_rps"],
        "p99_ms_c16": many["p99_ms"],
        "requests": one["requests"] + many["requests"],
        "failed_requests": one["failed_requests"] + many["failed_requests"],
        "drain_s": drained,
    }


def _search_queries(chosen: dict) -> list[str]:
    return [path.split("=", 1)[1].replace("+", " ") for path in chosen["paths"]["search"]]


def search_plan(person, query: str) -> dict:
    """EXPLAIN (ANALYZE, BUFFERS) of the pin search pinsite runs for ``query`` as ``person``.

    The search runs with a cache that always misses, so the query runs even when the pages'
    cache already holds its results.
    """
    from contextlib import ExitStack

    from django.db import connection, connections
    from django.test.utils import override_settings

    from pins.selectors import pin_search_page

    ran: list[tuple[str, Any]] = []

    def capture(execute, sql, params, many, context):
        ran.append((sql, params))
        return execute(sql, params, many, context)

    missing = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    with ExitStack() as stack:
        stack.enter_context(override_settings(CACHES=missing))
        for alias in connections:
            stack.enter_context(connections[alias].execute_wrapper(capture))
        pin_search_page(user=person, query=query)
    searches = [(sql, params) for sql, params in ran if "@@" in sql]
    if not searches:
        raise RuntimeError(f"pin_search_page ran no full-text query for {query!r}: {ran}")
    plans, cold_ms = [], 0.0
    with connection.cursor() as cursor:
        for sql, params in searches:  # the matching boards, then the ranked pins
            # Twice: the first run reads what this server's cache lacks (the load ran on the
            # readers, the plans run on the writer); the second is the plan of a warm server.
            for attempt in ("first", "warm"):
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
                text = "\n".join(row[0] for row in cursor.fetchall())
                if attempt == "first":
                    cold_ms += _execution_ms(text)
            plans.append(text)
    plan = "\n\n".join(plans)
    indexes = sorted(set(re.findall(r"(?:[Uu]sing|Index Scan on) (\w+)", plan)))
    return {
        "query": query,
        "plan": plan,
        "indexes": indexes,
        "database_ms": round(_execution_ms(plan), 1),
        "database_ms_first_run": round(cold_ms, 1),
        "uses_gin_index": any(name.endswith(("_search", "_search_document")) for name in indexes),
    }


def _execution_ms(plan: str) -> float:
    return sum(float(ms) for ms in re.findall(r"Execution Time: ([\d.]+) ms", plan))


def run(*, quick: bool) -> dict:
    import django

    from bench.results import RESULTS_DIR
    from stack import Stack

    sizes = QUICK if quick else FULL
    seconds = 2.0 if quick else 5.0
    runs = 2 if quick else 3
    name = "pinsite_pages_quick" if quick else "pinsite_pages"
    writer, readers = _database_urls(name)
    env = {
        **os.environ,
        "DATABASE_URL": writer,
        "DATABASE_REPLICA_URLS": readers,
        "DJANGO_SETTINGS_MODULE": "pinsite.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_STATIC_MANIFEST": "false",  # pages only; no collectstatic
        "LOG_LEVEL": "WARNING",
    }
    began = time.monotonic()
    seeded = seed(env, name, sizes)
    Stack.load(RESULTS_DIR / "stack").wait_replicas_caught_up(timeout=900)
    _log(f"data ready in {time.monotonic() - began:.1f} s: {seeded}")

    os.environ.update(DATABASE_URL=writer, DATABASE_REPLICA_URLS=readers)
    os.environ["DJANGO_SETTINGS_MODULE"] = "pinsite.settings"
    django.setup()
    chosen = targets()
    # A statement running past STATEMENT_TIMEOUT is cancelled (the request fails and is counted
    # so): a naive page at this scale must not keep the database busy long after the load ended.
    server_env = {
        **env,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "PGOPTIONS": f"-c statement_timeout={STATEMENT_TIMEOUT_S * 1000}",
    }
    web = Gunicorn(server_env, RESULTS_DIR / "pages.log")
    try:
        figures = measure(
            web.port,
            chosen,
            seconds=seconds,
            runs=runs,
            deep_budget=30.0 if quick else 300.0,
            repeats=10 if quick else 30,
        )
    finally:
        web.stop()
    # Every query's plan in brief (which indexes, how long in the database), and in full the
    # first query's plan and the first that went through a GIN index: common words are found
    # by walking the primary key newest first, rarer ones through the GIN index.
    plans = [search_plan(chosen["person"], query) for query in _search_queries(chosen)]
    plan = plans[0]
    gin = next((found for found in plans if found["uses_gin_index"]), None)
    if gin is not None and gin is not plan:
        plan = {**plan, "gin_query": gin["query"], "gin_plan": gin["plan"]}
    plan["plans_by_query"] = {
        found["query"]: {
            "indexes": found["indexes"],
            "database_ms": found["database_ms"],
            "database_ms_first_run": found["database_ms_first_run"],
            "uses_gin_index": found["uses_gin_index"],
        }
        for found in plans
    }
    search = figures.pop("search_figures")
    return {
        "results": {
            "pages": {
                "note": NOTE,
                "data": {key: seeded[key] for key in ("users", "boards", "pins")},
                "signed_in_as": {"username": chosen["username"], "follows": chosen["follows"]},
                "seconds_per_measurement": seconds,
                "runs": runs,
                "concurrency": CONCURRENCY,
                "statement_timeout_s": STATEMENT_TIMEOUT_S,
                **figures,
                "elapsed_s": round(time.monotonic() - began, 1),
            },
            "search": {**search, **plan, "note": NOTE},
            "seed_seconds": seeded["seed_seconds"],
        }
    }


def measure(
    port: int,
    chosen: dict,
    *,
    seconds: float,
    runs: int,
    warmup: float = 1.0,
    deep_budget: float = 300.0,
    repeats: int = 30,
    concurrency: int = CONCURRENCY,
) -> dict:
    """Every page's figures, deep pagination and the search latencies (see the module's doc)."""
    headers = log_in(port, chosen["username"], chosen["password"])
    paths = chosen["paths"]
    for page in PAGES:  # warm-up: connections, caches, the probers' first rounds
        # Every target once first (the budgets are for warm caches): a timed warm-up alone left
        # the slowest uncached pages (a much-saved pin's "more like this", ~140 ms) cold.
        for path in paths[page]:
            _get(port, path, headers)
        _load(port, warmup, paths=tuple(paths[page]), clients=2, headers=headers)
        _load(port, warmup, paths=tuple(map(_naive, paths[page])), clients=2, headers=headers)
        drain(port)
    figures: dict = {}
    per_run: dict[str, dict[str, list]] = {page: {"ours": [], "naive": []} for page in PAGES}
    for number in range(runs):  # interleaved, so drift on a shared machine hits both alike
        for page in PAGES:
            per_run[page]["ours"].append(
                measure_page(port, paths[page], headers, seconds, concurrency)
            )
            naive_paths = list(map(_naive, paths[page]))
            per_run[page]["naive"].append(
                measure_page(port, naive_paths, headers, seconds, concurrency)
            )
            _log(
                f"run {number + 1} {page}: {per_run[page]['ours'][-1]} naive {per_run[page]['naive'][-1]}"
            )
    for page in PAGES:
        ours, naive = per_run[page]["ours"], per_run[page]["naive"]
        count, shown = queries(port, paths[page][0], headers)
        naive_count, naive_shown = queries(port, _naive(paths[page][0]), headers)
        entry = {
            key: round(statistics.median(run[key] for run in ours), 1)
            for key in ("p50_ms", "p99_ms", "rps", "p99_ms_c16")
        }
        entry.update(
            rps_runs=[run["rps"] for run in ours],
            p99_ms_runs=[run["p99_ms"] for run in ours],
            failed_requests=sum(run["failed_requests"] for run in ours),
            queries=count,
            pins_on_page=shown,
            naive_rps=round(statistics.median(run["rps"] for run in naive), 1),
            naive_p50_ms=round(statistics.median(run["p50_ms"] for run in naive), 1),
            naive_p99_ms=round(statistics.median(run["p99_ms"] for run in naive), 1),
            naive_queries=naive_count,
            naive_pins_on_page=naive_shown,
            naive_failed_requests=sum(run["failed_requests"] for run in naive),
        )
        entry["speedup_rps"] = _ratio(entry["rps"], entry["naive_rps"])
        entry["speedup_p50"] = _ratio(entry["naive_p50_ms"], entry["p50_ms"])
        figures[page] = entry
    drain(port)
    figures["deep_pagination"] = deep_pagination(
        port, chosen, headers, budget=deep_budget, repeats=repeats
    )
    drain(port)
    search_samples = _load(
        port, seconds * 2, paths=tuple(paths["search"]), clients=1, headers=headers
    )
    latencies = [latency for _, latency, ok in search_samples if ok]
    figures["search_figures"] = {
        # None when every search failed (past the statement timeout): no latency to report.
        "p50_ms": round(1000 * _percentile(latencies, 0.5), 1) if latencies else None,
        "p99_ms": round(1000 * _percentile(latencies, 0.99), 1) if latencies else None,
        "requests": len(search_samples),
        "failed_requests": len(search_samples) - len(latencies),
        "queries": [path.split("=", 1)[1].replace("+", " ") for path in paths["search"]],
    }
    return figures


def deep_pagination(port: int, chosen: dict, headers: dict, *, budget: float, repeats: int) -> dict:
    """Page 1 against page N of the feed and of the largest board, ours and naive; following
    the "next" links stops after ``budget`` seconds."""
    found = {}
    board = chosen["largest_board"]
    for label, path in (("feed", "/"), ("board", board["path"])):
        reached, deep = follow_pages(port, path, headers, DEEP_PAGE, budget)
        entry: dict = {"page": reached}
        if reached == 1:
            entry["paginated"] = False
        else:
            first = latency_ms(port, path, headers, repeats)
            last = latency_ms(port, deep, headers, repeats)
            entry.update(
                page_1_p50_ms=first["p50_ms"],
                page_n_p50_ms=last["p50_ms"],
                ratio=_ratio(last["p50_ms"], first["p50_ms"]),
            )
        slow = max(2, repeats // 3)  # the naive deep page can take seconds
        naive_first = latency_ms(port, _naive(path), headers, slow)
        # The naive page goes as deep as ours did, or as deep as the board is when ours has no
        # pages at all.
        size = board["size"] if label == "board" else 0
        naive_page = reached if reached > 1 else max(2, min(DEEP_PAGE, size // 50))
        naive_last = latency_ms(port, _naive(path) + f"?page={naive_page}", headers, slow)
        entry.update(
            naive_page_1_p50_ms=naive_first["p50_ms"],
            naive_page_n_p50_ms=naive_last["p50_ms"],
            naive_page=naive_page,
            naive_ratio=_ratio(naive_last["p50_ms"], naive_first["p50_ms"]),
            naive_failed_requests=naive_first["failed_requests"] + naive_last["failed_requests"],
        )
        if label == "board":
            entry["board_pins"] = board["size"]
        found[label] = entry
        _log(f"deep pagination {label}: {entry}")
    return found


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv)))
