"""The fault drill: each part of the stack fails under a bounded load, and what it cost is counted.

Run by ``make drill`` (``python -m bench --only faults [--quick]``); prints one JSON line, which
``python -m bench`` puts under ``faults`` in var/bench/results.json. It starts a stack of its own
under var/bench/faults-stack (PostgreSQL primary + 2 replicas, Redis, the S3 server), migrates,
provisions the bucket, loads the demo content, and starts one Celery worker and gunicorn (2 gthread
workers x 4 threads, DEBUG off), the way ``make stack`` runs them: the stack is durable like
``make stack``'s (Ceph RGW keeping objects on disk, Redis with an append-only file), so a killed
service comes back with what it held, as in production. Then, for the whole drill:

* ``CLIENTS`` threads read pages as a signed-out visitor (keep-alive ``http.client``), going round
  the home feed, a board, a pin page and a search;
* one uploader, signed in as the demo person, sends a new small JPEG every ``UPLOAD_EVERY`` s
  through the app (``/pin/upload/``).

For each fault in ``FAULTS``, in that order: a baseline window, the fault (SIGKILL, or SIGSTOP for
"hung"; for S3 the signal goes to radosgw, and ``s3_osd_killed`` also kills the OSD that holds the
objects) for the fault window, the fault undone (the service restarted through ``Stack.start``,
or SIGCONT), then a recovery wait, until the site answers and the uploads so far are processed (at
most ``DRAIN`` s). Per fault: ``requests``, ``failed`` (any answer but 200, or none), ``p50_ms``,
``p99_ms`` of page requests started in the fault window against ``baseline_p50_ms`` and
``baseline_p99_ms`` of the window just before it, ``uploads`` (sent, accepted, refused with the
app's calm JSON message, failed otherwise) in the fault window, and ``after``: rows pointing at a
missing object, orphan objects (originals and renditions no row names), assets stuck (pending or
processing after the drain), uploads lost (accepted in the drill and now without a row or
without their original) and the counts of ``manage.py media_check`` (run with a short grace
period and stuck threshold, so the drill's own objects and assets are judged).

The same two cores run the app,
the services and the load: compare each fault with its own baseline, not across machines.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from bench.replicas import _percentile, _python
from bench.results import RESULTS_DIR
from stack.processes import ProcessId, free_ports
from stack.stack import Stack

REPO = Path(__file__).resolve().parent.parent
DATABASE = "pinsite_faults"
CLIENTS = 4
UPLOAD_EVERY = 1.0
FAULTS = (
    "reader_killed",
    "reader_hung",
    "writer_killed",
    "redis_killed",
    "redis_hung",
    "s3_hung",
    "worker_killed",
    "s3_killed",
    "s3_osd_killed",
)
# media_check's thresholds for the drill: objects younger than this are uploads in flight, not
# orphans; an asset pending or processing longer than this is stuck.
CHECK_GRACE_HOURS = "0.02"  # 72 s
CHECK_STUCK_MINUTES = "2"
GUNICORN = ["--worker-class", "gthread", "--workers", "2", "--threads", "4", "--timeout", "30"]
DEMO_PASSWORD = "drill-demo"  # noqa: S105 - the drill's throwaway stack; given to seed_demo


def _log(message: str) -> None:
    print(f"[faults] {message}", file=sys.stderr, flush=True)


# --- bookkeeping (pure; bench/tests/test_faults.py checks it) ----------------------------------


@dataclass
class Sample:
    began: float
    seconds: float
    ok: bool


@dataclass
class Upload:
    began: float
    status: int  # 0: no answer
    asset_id: int | None = None
    calm: bool = False  # the app's JSON error message (e.g. storage not answering)


@dataclass
class Journal:
    """Everything the load did, appended from its threads."""

    pages: list[Sample] = field(default_factory=list)
    uploads: list[Upload] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def page(self, sample: Sample) -> None:
        with self.lock:
            self.pages.append(sample)

    def upload(self, upload: Upload) -> None:
        with self.lock:
            self.uploads.append(upload)

    def pages_between(self, start: float, end: float) -> list[Sample]:
        with self.lock:
            return [s for s in self.pages if start <= s.began < end]

    def uploads_between(self, start: float, end: float) -> list[Upload]:
        with self.lock:
            return [u for u in self.uploads if start <= u.began < end]


def window_figures(fault: list[Sample], baseline: list[Sample]) -> dict:
    """Requests, failures and p50/p99 (ms) of the fault window against its baseline window."""

    def ms(samples: list[Sample], fraction: float) -> float | None:
        if not samples:
            return None
        return round(1000 * _percentile([s.seconds for s in samples], fraction), 1)

    return {
        "requests": len(fault),
        "failed": sum(1 for s in fault if not s.ok),
        "p50_ms": ms(fault, 0.50),
        "p99_ms": ms(fault, 0.99),
        "baseline_requests": len(baseline),
        "baseline_failed": sum(1 for s in baseline if not s.ok),
        "baseline_p50_ms": ms(baseline, 0.50),
        "baseline_p99_ms": ms(baseline, 0.99),
    }


def upload_figures(uploads: list[Upload]) -> dict:
    accepted = sum(1 for u in uploads if u.status == 201)
    calm = sum(1 for u in uploads if u.status != 201 and u.calm)
    return {
        "sent": len(uploads),
        "accepted": accepted,
        "refused_calmly": calm,
        "failed": len(uploads) - accepted - calm,
    }


def after_figures(
    *,
    referenced: set[str],
    stored: set[str],
    accepted_ids: set[int],
    assets: dict[int, tuple[str, str]],
    window_ids: set[int] = frozenset(),  # type: ignore[assignment]
) -> dict:
    """What is wrong once the fault is over. ``referenced``: keys rows name; ``stored``: keys in
    the bucket (under originals/ and renditions/); ``assets``: id -> (status, original key);
    ``window_ids``: the uploads accepted in this fault's baseline and fault windows. Counts are
    of the whole database (earlier faults included), except ``assets_stuck_from_window``."""
    return {
        "rows_missing_objects": len(referenced - stored),
        "orphan_objects": len(stored - referenced),
        "assets_stuck": sum(1 for status, _ in assets.values() if status in STUCK),
        "assets_stuck_from_window": sum(
            1 for pk in window_ids if pk in assets and assets[pk][0] in STUCK
        ),
        "uploads_lost": sum(
            1 for pk in accepted_ids if pk not in assets or assets[pk][1] not in stored
        ),
    }


STUCK = ("pending", "processing")


def media_check_counts(stdout: str, stderr: str) -> dict:
    """The counts ``manage.py media_check`` printed (``  <problem>: <n>`` lines), by problem;
    ``error`` with its last line if it printed none (e.g. storage not answering)."""
    counts: dict = {
        label: int(number)
        for label, number in re.findall(r"^  (\S[^:\n]*): (\d+)", stdout, re.MULTILINE)
    }
    if not counts:
        counts["error"] = (stderr.strip() or stdout.strip() or "no output").splitlines()[-1]
    return counts


# --- the stack and the load --------------------------------------------------------------------


class Drill:
    def __init__(self, root: Path, quick: bool) -> None:
        self.root = root
        self.quick = quick
        self.stack = Stack(root / "stack", database=DATABASE, s3="rgw", durable=True)
        self.journal = Journal()
        self.stop = threading.Event()
        self.uploads_paused = threading.Event()  # set while the figures after a fault are counted
        self.env: dict[str, str] = {}
        self.port = 0
        self.paths: list[str] = ["/"]

    # services
    def start(self) -> None:
        self.stack.start()
        from stack.pytest_plugin import settings_variables

        env = {k: v for k, v in os.environ.items() if k not in settings_variables()}
        env.update(self.stack.env())
        env.update(
            DJANGO_SETTINGS_MODULE="pinsite.settings",
            DJANGO_DEBUG="false",
            PINSITE_VAR_DIR=str(self.root / "var"),
            DEMO_PASSWORD=DEMO_PASSWORD,
            LOG_LEVEL="WARNING",
            # The readers are four clients on one address: the per-address search limit would
            # turn them away (429) and measure the limit, not the faults.
            RATE_LIMIT_SEARCH="1000000/60",
        )
        self.env = env
        self.manage("migrate", "--noinput")
        # The hashed static files every page names (whitenoise serves them; DEBUG is off).
        self.manage("collectstatic", "--noinput", "-v", "0")
        # What Ceph RGW 16.2 lacks, skipped as `make stack` does (media/provisioning.py's SKIPPABLE).
        self.manage(
            "s3_provision",
            "--iam-dir",
            str(self.root / "iam"),
            *("--skip", "encryption", "--skip", "public-access-block"),
        )
        self.manage("seed_demo")
        self.start_worker()
        self.port = free_ports(1)[0]
        web = [_python(), "-m", "gunicorn", "pinsite.wsgi:application", *GUNICORN]
        web += ["-b", f"127.0.0.1:{self.port}", "--control-socket", str(self.root / "g.ctl")]
        self.stack.start_process("web", web, env, REPO)
        self.wait(lambda: self.get("/healthz") == 200, 60, "gunicorn answers")
        self.drain(120)

    def start_worker(self) -> None:
        worker = [_python(), "-m", "celery", "-A", "pinsite", "worker", "--loglevel", "INFO"]
        self.stack.start_process("celery-worker", [*worker, "--concurrency", "2"], self.env, REPO)

    def worker(self) -> ProcessId | None:
        return ProcessId.from_json(self.stack._state.get("apps", {}).get("celery-worker"))

    def worker_restarted(self) -> bool:
        """Start the worker again if it died (what a process supervisor does); say whether."""
        worker = self.worker()
        if worker is not None and worker.alive():
            return False
        self.start_worker()
        return True

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [_python(), "manage.py", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def psql(self, sql: str) -> list[list[str]]:
        out = self.stack.psql(sql, db=DATABASE)
        return [line.split("|") for line in out.splitlines() if line]

    def get(self, path: str) -> int:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            conn.close()
            return response.status
        except (OSError, http.client.HTTPException):
            return 0

    @staticmethod
    def wait(condition, seconds: float, what: str) -> bool:
        deadline = time.monotonic() + seconds
        last = ""
        while time.monotonic() < deadline:
            try:
                if condition():
                    return True
            except Exception as error:  # a service still coming back
                last = f" ({str(error).strip()[:200]})"
            time.sleep(0.25)
        _log(f"not within {seconds:g} s: {what}{last}")
        return False

    def drain(self, seconds: float) -> None:
        """Wait until no asset is pending or processing (at most ``seconds``)."""

        def done() -> bool:
            rows = self.psql(
                "SELECT count(*) FROM pins_mediaasset WHERE status IN ('pending', 'processing')"
            )
            return rows[0][0] == "0"

        self.wait(done, seconds, "every asset processed")

    def targets(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request("GET", "/")
        response = conn.getresponse()
        home = response.read().decode()
        if response.status != 200:  # else every page of the drill would count as failed
            raise RuntimeError(f"the home page answers {response.status}:\n{home[-2000:]}")
        pin = re.search(r'href="(/pin/\d+/)"', home)
        paths = ["/"]
        if pin:
            paths.append(pin.group(1))
            conn.request("GET", pin.group(1))
            page = conn.getresponse().read().decode()
            board = re.search(r'href="(/boards/[^"/]+/[^"/]+/)"', page)
            if board:
                paths.append(board.group(1))
        paths.append("/search/?q=light")
        conn.close()
        self.paths = paths

    # load
    def reader(self, number: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        turn = number
        while not self.stop.is_set():
            path, turn = self.paths[turn % len(self.paths)], turn + 1
            began = time.monotonic()
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.journal.page(Sample(began, time.monotonic() - began, ok))
        conn.close()

    def uploader(self) -> None:
        session = _Session(self.port)
        while not self.stop.is_set():
            began = time.monotonic()
            if self.uploads_paused.is_set():
                self.stop.wait(0.1)
                continue
            if not session.signed_in:
                session.sign_in("demo", DEMO_PASSWORD)
            if session.signed_in:
                self.journal.upload(session.upload(began))
            self.stop.wait(max(0.0, UPLOAD_EVERY - (time.monotonic() - began)))

    # faults
    def inject(self, fault: str) -> None:
        stack = self.stack
        if fault == "reader_killed":
            _signal(_postmaster(stack.replica_dirs[0]), signal.SIGKILL)
        elif fault == "reader_hung":
            _signal(_postmaster(stack.replica_dirs[0]), signal.SIGSTOP)
        elif fault == "writer_killed":
            _signal(_postmaster(stack.primary_dir), signal.SIGKILL)
        elif fault == "redis_killed":
            _signal(stack._redis().process(), signal.SIGKILL)
        elif fault == "redis_hung":
            _signal(stack._redis().process(), signal.SIGSTOP)
        elif fault == "s3_killed":
            _signal(stack._s3_process(), signal.SIGKILL)
        elif fault == "s3_osd_killed":
            _signal(stack._s3_process(), signal.SIGKILL)
            _signal(_rgw_daemon(stack, "osd"), signal.SIGKILL)  # the object store itself
        elif fault == "s3_hung":
            _signal(stack._s3_process(), signal.SIGSTOP)
        elif fault == "worker_killed":
            worker = self.worker()
            if worker is not None and worker.alive():
                os.killpg(worker.pid, signal.SIGKILL)  # the worker and its pool, mid-task

    def undo(self, fault: str) -> None:
        stack = self.stack
        if fault == "reader_hung":
            _signal(_postmaster(stack.replica_dirs[0]), signal.SIGCONT)
        elif fault in ("reader_killed", "writer_killed"):
            stack.start(["postgres"])
        elif fault == "redis_killed":
            stack.start(["redis"])
        elif fault == "redis_hung":
            _signal(stack._redis().process(), signal.SIGCONT)
        elif fault == "s3_hung":
            _signal(stack._s3_process(), signal.SIGCONT)
        elif fault in ("s3_killed", "s3_osd_killed"):
            stack.start(["s3"])  # resumes the cluster on disk: same bucket, same objects
        elif fault == "worker_killed":
            self.start_worker()

    def after(self, accepted_ids: set[int], window_ids: set[int]) -> dict:
        referenced = {
            row[0]
            for row in self.psql(
                "SELECT original_key FROM pins_mediaasset WHERE original_key <> ''"
                " UNION ALL SELECT key FROM pins_mediarendition"
            )
        }
        assets = {
            int(row[0]): (row[1], row[2])
            for row in self.psql("SELECT id, status, original_key FROM pins_mediaasset")
        }
        figures = after_figures(
            referenced=referenced,
            stored=self.bucket_keys(),
            accepted_ids=accepted_ids,
            assets=assets,
            window_ids=window_ids,
        )
        figures["media_check"] = self.media_check()
        return figures

    def media_check(self) -> dict:
        """``manage.py media_check``'s counts (it exits 1 when it finds problems)."""
        done = subprocess.run(
            [
                *(_python(), "manage.py", "media_check", "--grace-hours", CHECK_GRACE_HOURS),
                *("--stuck-minutes", CHECK_STUCK_MINUTES),
            ],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        return media_check_counts(done.stdout, done.stderr)

    def bucket_keys(self) -> set[str]:
        import boto3
        from botocore.config import Config

        env = self.env
        client = boto3.client(
            "s3",
            endpoint_url=env["S3_ENDPOINT_URL"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env["AWS_S3_REGION_NAME"],
            config=Config(connect_timeout=2, read_timeout=10, retries={"total_max_attempts": 2}),
        )
        keys: set[str] = set()
        for prefix in ("originals/", "renditions/"):
            pages = client.get_paginator("list_objects_v2").paginate(
                Bucket=env["AWS_STORAGE_BUCKET_NAME"], Prefix=prefix
            )
            try:
                for page in pages:
                    keys.update(item["Key"] for item in page.get("Contents", []))
            except client.exceptions.NoSuchBucket:
                break
        return keys

    def stop_all(self) -> None:
        self.stop.set()
        self.stack.stop()


class _Session:
    """A signed-in browser: cookies and the CSRF token, over one keep-alive connection."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.signed_in = False
        self.shade = random.randrange(1 << 24)  # noqa: S311 - distinct pictures, not secrets

    def _request(self, method: str, path: str, body: bytes = b"", headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn.request(method, path, body=body, headers={"Cookie": cookie, **(headers or {})})
        response = conn.getresponse()
        data = response.read()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key.strip()] = rest.split(";", 1)[0]
        conn.close()
        return response.status, data

    def sign_in(self, username: str, password: str) -> None:
        try:
            self._request("GET", "/accounts/login/")
            token = self.cookies.get("csrftoken", "")
            form = f"username={username}&password={password}&csrfmiddlewaretoken={token}"
            status, _ = self._request(
                "POST",
                "/accounts/login/",
                form.encode(),
                {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Referer": f"http://127.0.0.1:{self.port}/accounts/login/",
                },
            )
            self.signed_in = status == 302 and "sessionid" in self.cookies
        except (OSError, http.client.HTTPException):
            self.signed_in = False

    def upload(self, began: float) -> Upload:
        from PIL import Image

        self.shade = (self.shade + 7919) % (1 << 24)
        colour = (self.shade >> 16, (self.shade >> 8) & 255, self.shade & 255)
        image = Image.new("RGB", (480, 360), colour)
        image.putpixel((0, 0), (255 - colour[0], 0, 0))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=85)
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="d.jpg"\r\n'
                "Content-Type: image/jpeg\r\n\r\n"
            ).encode()
            + buffer.getvalue()
            + f"\r\n--{boundary}--\r\n".encode()
        )
        headers = {
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "X-CSRFToken": self.cookies.get("csrftoken", ""),
            "Referer": f"http://127.0.0.1:{self.port}/pin/new/",
        }
        try:
            status, data = self._request("POST", "/pin/upload/", body, headers)
        except (OSError, http.client.HTTPException):
            return Upload(began, 0)
        try:
            reply = json.loads(data)
        except ValueError:
            reply = None
        if status == 403:
            self.signed_in = False  # the session was lost (Redis restarted): sign in again
        if status == 201 and isinstance(reply, dict):
            return Upload(began, status, asset_id=int(reply["asset"]))
        return Upload(began, status, calm=isinstance(reply, dict) and "error" in reply)


def _postmaster(data_dir: Path) -> ProcessId | None:
    from stack.postgres import postmaster

    return postmaster(data_dir)


def _rgw_daemon(stack: Stack, name: str) -> ProcessId | None:
    return ProcessId.from_json((stack._state.get("s3_rgw") or {}).get(name))


def _signal(process: ProcessId | None, signum: int) -> None:
    if process is not None and process.alive():
        os.kill(process.pid, signum)


def run(*, quick: bool) -> dict:
    baseline, window, settle = (4.0, 6.0, 5.0) if quick else (8.0, 12.0, 8.0)
    root = RESULTS_DIR / "faults-stack"
    if (root / "stack" / "stack.json").exists():
        Stack.load(root / "stack").stop()  # a previous run that was interrupted
    shutil.rmtree(root, ignore_errors=True)
    drill = Drill(root, quick)
    began = time.monotonic()
    figures: dict = {}
    try:
        drill.start()
        drill.targets()
        _log(f"stack up in {time.monotonic() - began:.0f} s; pages {drill.paths}")
        threads = [threading.Thread(target=drill.reader, args=(n,)) for n in range(CLIENTS)]
        threads.append(threading.Thread(target=drill.uploader))
        for thread in threads:
            thread.start()
        try:
            time.sleep(3)  # warm-up: connections, caches
            for fault in FAULTS:
                base_start = time.monotonic()
                time.sleep(baseline)
                fault_start = time.monotonic()
                drill.inject(fault)
                time.sleep(window)
                fault_end = time.monotonic()
                drill.undo(fault)
                # The worker is started again after its own fault; after any other, a dead
                # worker is a finding, and it is restarted so the faults after it can drain.
                died = fault != "worker_killed" and drill.worker_restarted()
                drill.wait(lambda: drill.get("/healthz") == 200, 60, "the site answers again")
                time.sleep(settle)
                drill.uploads_paused.set()  # no upload half-way while objects are counted
                time.sleep(2)
                drill.drain(30 if quick else 60)
                result = window_figures(
                    drill.journal.pages_between(fault_start, fault_end),
                    drill.journal.pages_between(base_start, fault_start),
                )
                result["window_seconds"] = round(fault_end - fault_start, 1)
                result["worker_died"] = died
                result["uploads"] = upload_figures(
                    drill.journal.uploads_between(fault_start, fault_end)
                )
                accepted = {u.asset_id for u in drill.journal.uploads if u.asset_id is not None}
                in_window = {
                    u.asset_id
                    for u in drill.journal.uploads_between(base_start, fault_end)
                    if u.asset_id is not None
                }
                result["after"] = drill.after(accepted, in_window)
                drill.uploads_paused.clear()
                figures[fault] = result
                _log(f"{fault}: {json.dumps(result)}")
        finally:
            drill.stop.set()
            for thread in threads:
                thread.join(60)
    finally:
        drill.stop_all()
    figures["clients"] = CLIENTS
    figures["upload_every_seconds"] = UPLOAD_EVERY
    figures["pages"] = drill.paths
    return figures
