"""sqlmap and wapiti against a seeded local pinsite, each bounded in time: ``python -m audit.scan``.

The site is ``audit.site.Site``: a throwaway SQLite database and media folder with the demo
content, served by gunicorn with DEBUG off, attacked as the signed-in demo person (and
anonymously where a page is public). Scanners write (reports, boards, saves): that is why the
database is thrown away afterwards.

* **wapiti** (3.2.3, in its own virtualenv) crawls with caps, the crawl is thinned to two of each
  kind of URL (one pin page stands for all of them), then its attack modules run with
  ``--skip-crawl`` and a time limit per module. Its ``ssl`` and ``ssrf`` modules are left out:
  they contact outside hosts. Any finding in an injection, XSS, traversal, redirect or upload
  category is a finding; the rest (missing headers, CSRF notes) is printed for people to read.
* **sqlmap** (Debian's package) tries every query and form value of the pages that take one
  (``SQLMAP_TARGETS``) at ``--level 2 --risk 1``, three targets at a time; a form post fetches a
  fresh CSRF token from its page first. An injection point it confirms is a finding; a target
  that reaches its time limit is a note.

Every URL the site answered with a 500 during the scans is printed as a note too.

Exit status 1 on any finding (or when a scanner could not run), 0 otherwise.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import json
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from audit.site import REPO, Site

WAPITI = REPO / "var" / "wapiti-venv" / "bin" / "wapiti"
SQLMAP_PARALLEL = 3  # sqlmap mostly waits on the site; gunicorn serves 2 workers x 4 threads
WAPITI_MODULES = [
    "sql",
    "xss",
    "permanentxss",
    "exec",
    "file",
    "redirect",
    "crlf",
    "upload",
    "methods",
    "csrf",
    "csp",
    "http_headers",
    "cookieflags",
]
# wapiti's report categories that fail the audit: code or markup the site would run.
FAILING_CATEGORIES = {
    "SQL Injection",
    "Blind SQL Injection",
    "Cross Site Scripting",
    "Stored Cross Site Scripting",
    "Reflected Cross Site Scripting",
    "Command execution",
    "Path Traversal",
    "CRLF Injection",
    "HTML Injection",
    "Stored HTML Injection",
    "Open Redirect",
    "Unrestricted File Upload",
    "LDAP Injection",
}


@dataclass(frozen=True)
class Target:
    """One request for sqlmap: ``path`` (with {pin}, {board}... from the seeded site), an
    optional form body, and the page whose form carries the CSRF token."""

    name: str
    path: str
    data: str | None = None
    form_page: str | None = None
    signed_in: bool = True
    params: str | None = None  # sqlmap's -p: only these (default: every query and form value)
    options: tuple[str, ...] = ()  # more sqlmap options for this target


SQLMAP_TARGETS = [
    Target("search (anonymous)", "/search/?q=kite", signed_in=False),
    Target("search", "/search/?q=kite&partial=1"),
    Target("search cursor", "/search/?q=kite&cursor=x"),
    Target("home feed cursor", "/?cursor=x"),
    Target("upload status", "/pin/status/?ids={pin}"),
    Target("new pin board choice", "/pin/new/?board=1"),
    Target("profile", "/people/{user}/?cursor=x&boards=all"),
    Target("board page", "/boards/{user}/{board}/?cursor=x"),
    Target(
        "log-in form",
        "/accounts/login/",
        data="username=demo&password=wrong",
        form_page="/accounts/login/",
        signed_in=False,
        params="username",  # the password only ever meets the hasher
    ),
    Target(
        "report form", "/pin/{pin}/report/", data="reason=spam&detail=x", form_page="/pin/{pin}/"
    ),
    Target(
        "new board form",
        "/boards/new/",
        data="name=audit&description=x",
        form_page="/boards/new/",
    ),
    Target(
        "reorder board",
        "/boards/{user}/{board}/reorder/",
        data="pin={pin}&before={pin2}",
        form_page="/boards/{user}/{board}/",
    ),
]


def _sqlmap_one(target: Target, site: Site, cookie: str, work: Path, seconds: int) -> str:
    """sqlmap's verdict on one target: "clean", "FINDING: ...", or why it did not finish."""
    sample = site.sample_ids
    url = site.url + target.path.format(**sample)
    name = re.sub(r"[^a-z]+", "-", target.name).strip("-")
    argv = [
        "sqlmap",
        "-u",
        url,
        "--batch",
        "--level",
        "2",
        "--risk",
        "1",
        "--disable-coloring",
        "--flush-session",
        "--drop-set-cookie",
        "--skip",
        "sessionid,csrftoken,csrfmiddlewaretoken",
        "--output-dir",
        str(work / "sqlmap" / name),
    ]
    if target.params:
        argv += ["-p", target.params]
    argv += target.options
    if target.signed_in:
        argv += ["--cookie", cookie]
    if target.data is not None:
        form_page = site.url + (target.form_page or target.path).format(**sample)
        if target.signed_in:
            token = site.csrf_token((target.form_page or target.path).format(**sample))
        else:
            token, anonymous_cookie = site.anonymous_csrf(form_page)
            argv += ["--cookie", anonymous_cookie]
        argv += [
            "--data",
            f"{target.data.format(**sample)}&csrfmiddlewaretoken={token}",
            "--csrf-token",
            "csrfmiddlewaretoken",
            "--csrf-url",
            form_page,
        ]
    try:
        run = subprocess.run(
            argv, capture_output=True, text=True, timeout=seconds, stdin=subprocess.DEVNULL
        )
        output = run.stdout + run.stderr
    except subprocess.TimeoutExpired as stopped:
        partial = stopped.stdout
        output = partial.decode() if isinstance(partial, bytes) else partial or ""
        output += f"\n(stopped after {seconds} s)"
    (work / f"sqlmap-{name}.log").write_text(output)
    # Only what sqlmap confirmed: it also prints "appears to be injectable" for candidates it
    # then rejects as false positives.
    if "identified the following injection point" in output:
        points = re.findall(r"^Parameter: (.+)$", output, flags=re.MULTILINE)
        return f"FINDING: {url}: {'; '.join(points)}"
    if "do not appear to be injectable" in output:
        return "clean"
    if output.endswith(" s)"):
        return f"stopped at its {seconds} s limit before finishing"
    errors = re.findall(r"\[(?:CRITICAL|ERROR)\] ([^\n]+)", output)
    return f"did not finish: {errors[-1] if errors else 'no verdict in its output'}"


def _sqlmap(site: Site, cookie: str, work: Path, seconds: int) -> tuple[list[str], list[str]]:
    """(findings, notes): every target, three at a time, each bounded by ``seconds``."""
    findings: list[str] = []
    notes: list[str] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=SQLMAP_PARALLEL) as pool:
        started = time.monotonic()
        verdicts = pool.map(
            lambda target: (target, _sqlmap_one(target, site, cookie, work, seconds)),
            SQLMAP_TARGETS,
        )
        for target, verdict in verdicts:
            print(f"  sqlmap  {target.name:<22} {verdict[:100]}")
            if verdict.startswith("FINDING"):
                findings.append(f"sqlmap: {target.name}: {verdict}")
            elif verdict != "clean":
                notes.append(f"sqlmap: {target.name}: {verdict}")
    print(f"  sqlmap  {len(SQLMAP_TARGETS)} targets in {time.monotonic() - started:.0f} s")
    return findings, notes


def _thin_crawl(session_db: Path, keep: int = 2) -> tuple[int, int]:
    """Keep ``keep`` of each kind of crawled request (same method, path with numbers folded,
    same parameter names): attacking 23 pin pages finds nothing one pin page would not."""
    db = sqlite3.connect(session_db)
    with db:
        params = collections.defaultdict(list)
        for path_id, name in db.execute("SELECT path_id, name FROM params ORDER BY position"):
            params[path_id].append(name)
        seen: collections.Counter = collections.Counter()
        drop = []
        rows = db.execute("SELECT path_id, path, method FROM paths WHERE evil = 0 ORDER BY path_id")
        for path_id, path, method in rows.fetchall():
            shape = (method, re.sub(r"\d+", "N", path.split("?")[0]), tuple(params[path_id]))
            seen[shape] += 1
            if seen[shape] > keep:
                drop.append((path_id,))
        db.executemany("DELETE FROM params WHERE path_id = ?", drop)
        db.executemany("DELETE FROM paths WHERE path_id = ?", drop)
    total = sum(seen.values())
    db.close()
    return total, total - len(drop)


def _wapiti(site: Site, cookie: str, work: Path, seconds: int) -> tuple[list[str], list[str]]:
    if not WAPITI.exists():
        return [f"wapiti did not run: not installed at {WAPITI} (make audit installs it)"], []
    common = [
        str(WAPITI),
        "-u",
        site.url + "/",
        "-C",
        cookie,
        "--scope",
        "folder",
        "-x",
        site.url + "/admin/*",  # Django's own admin; its actions would delete the demo data
        "-x",
        site.url + "/accounts/logout/*",
        "-x",
        site.url + "/accounts/password-reset/*",  # sends mail; nothing to inject
        "-x",
        site.url + "/pin/*/delete/*",  # would remove the pins the other attacks aim at
        "-x",
        site.url + "/boards/*/delete/*",  # and the boards
        "--store-session",
        str(work / "wapiti" / "session"),
        "--store-config",
        str(work / "wapiti" / "config"),
        "--no-bugreport",
        "-t",
        "20",
        "-f",
        "json",
    ]
    crawl_seconds = max(30, seconds // 6)
    started = time.monotonic()
    crawl = subprocess.run(
        [
            *common,
            "-m",
            "",
            "-d",
            "3",
            "--max-links-per-page",
            "40",
            "--max-files-per-dir",
            "10",
            "--max-scan-time",
            str(crawl_seconds),
            "--flush-session",
            "-o",
            str(work / "wapiti" / "crawl.json"),
        ],
        capture_output=True,
        text=True,
        timeout=crawl_seconds + 60,
        stdin=subprocess.DEVNULL,
    )
    (work / "wapiti-crawl.log").write_text(crawl.stdout + crawl.stderr)
    sessions = list((work / "wapiti" / "session").glob("*.db"))
    if not sessions:
        return ["wapiti did not run: the crawl saved no session; see wapiti-crawl.log"], []
    found, kept = _thin_crawl(sessions[0])
    print(f"  wapiti  crawl: {found} requests, {kept} kept ({time.monotonic() - started:.0f} s)")

    left = seconds - (time.monotonic() - started)
    per_module = max(10, int(left / len(WAPITI_MODULES)))
    report = work / "wapiti" / "report.json"
    notes: list[str] = []
    try:
        attack = subprocess.run(
            [
                *common,
                "-m",
                ",".join(WAPITI_MODULES),
                "--skip-crawl",
                "--max-attack-time",
                str(per_module),
                "-o",
                str(report),
            ],
            capture_output=True,
            text=True,
            timeout=per_module * len(WAPITI_MODULES) + 120,
            stdin=subprocess.DEVNULL,
        )
        (work / "wapiti-attack.log").write_text(attack.stdout + attack.stderr)
    except subprocess.TimeoutExpired:
        notes.append("wapiti: the attack phase was stopped at its time limit")
    if not report.exists():
        return ["wapiti did not finish: no report was written; see wapiti-attack.log"], notes
    results = json.loads(report.read_text())
    findings = []
    for section in ("vulnerabilities", "anomalies", "additionals"):
        for category, items in (results.get(section) or {}).items():
            if section == "vulnerabilities" and category in FAILING_CATEGORIES:
                findings += [
                    f"wapiti: {category}: {item.get('method')} {item.get('path')} "
                    f"{item.get('parameter') or ''} - {item.get('info')}"
                    for item in items
                ]
            elif items:  # one line a category: the details are in the kept report
                example = f"{items[0].get('method')} {items[0].get('path')}: {items[0].get('info')}"
                notes.append(f"wapiti: {category}: {len(items)}, e.g. {example[:160]}")
    print(f"  wapiti  attack: {len(WAPITI_MODULES)} modules, up to {per_module} s each")
    return findings, notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m audit.scan", description=__doc__)
    parser.add_argument("--sqlmap-seconds", type=int, default=240, help="limit per target")
    parser.add_argument("--wapiti-seconds", type=int, default=360)
    parser.add_argument("--keep", action="store_true", help="keep the scan folder (logs, reports)")
    parser.add_argument("--only", choices=["wapiti", "sqlmap"], help="run one scanner")
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # a TextIOWrapper

    if shutil.which("sqlmap") is None:
        print("sqlmap is not installed (apt-get install sqlmap)", file=sys.stderr)
        return 1
    folder = Path(tempfile.mkdtemp(prefix="pinsite-audit-"))
    started = time.monotonic()
    findings: list[str] = []
    notes: list[str] = []
    server_errors: collections.Counter = collections.Counter()
    try:
        with Site(folder) as site:
            cookie = site.sign_in()
            print(f"audit.scan: seeded site at {site.url} ({time.monotonic() - started:.0f} s)")
            # wapiti first: sqlmap's form posts add hundreds of boards its crawl would then visit.
            for name, scanner, seconds in (
                ("wapiti", _wapiti, args.wapiti_seconds),
                ("sqlmap", _sqlmap, args.sqlmap_seconds),
            ):
                if args.only not in (None, name):
                    continue
                site.sample_ids = site.sample()  # what the site holds now, after earlier writes
                found, noted = scanner(site, cookie, folder, seconds)
                findings += found
                notes += noted
        log = (folder / "gunicorn.log").read_text(errors="replace")
        server_errors = collections.Counter(
            re.findall(r"django\.request Internal Server Error: (\S+)", log)
        )
    finally:
        if args.keep or findings or notes:
            print(f"audit.scan: logs and reports kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    for note in notes:
        print(f"  note: {note}")
    for path, count in server_errors.most_common():
        print(f"  note: the site answered 500 to {path} ({count} times)")
    for finding in findings:
        print(f"  FINDING: {finding}")
    print(
        f"audit.scan: {len(findings)} findings, {len(notes)} notes "
        f"in {time.monotonic() - started:.0f} s"
    )
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
