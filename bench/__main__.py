"""``make bench``: start the real stack once, run each area's benchmark, write one results file.

    python -m bench [--quick] [--only signing,replicas] [--keep]

Each area runs in its own process (its own settings and connections) and prints one JSON line;
the figures go under the area's key in var/bench/results.json (or, when the line is
``{"results": {...}}``, under each key it names), rendered to results.md. Everything
talks over loopback only. Timings are never asserted anywhere; compare ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.results import RESULTS_DIR, merge
from stack import Stack

REPO = Path(__file__).resolve().parent.parent
# area -> (module, whether it needs the shared stack's environment)
AREAS = {
    "pages": ("bench.pages", True),  # seeds its own database on the bench stack
    "signing": ("bench.signing", True),
    "replicas": ("bench.replicas", False),  # starts the stack shapes it needs itself
    "thumbnails": ("bench.thumbnails", False),  # pure image code; no services
    "tiering": ("bench.tiering", True),
    "cache": ("bench.cache", True),  # the page cache's hit rate; reuses the pages' small database
    "faults": ("bench.faults", False),  # the fault drill (make drill); starts its own stack
}
# Run only when asked for by name (--only): the drill kills services and takes minutes.
OPT_IN = {"faults"}


def _area_command(module: str, quick: bool) -> list[str]:
    code = f"import json, {module} as area; print(json.dumps(area.run(quick={quick})))"
    return [sys.executable, "-c", code]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="small data, a few minutes in all")
    parser.add_argument("--only", help="comma-separated areas (default: all available)")
    parser.add_argument("--keep", action="store_true", help="leave the bench stack running")
    args = parser.parse_args(argv)
    wanted = args.only.split(",") if args.only else [a for a in AREAS if a not in OPT_IN]
    available = {
        area: spec
        for area, spec in AREAS.items()
        if area in wanted and (REPO / (spec[0].replace(".", "/") + ".py")).exists()
    }
    stack = Stack(RESULTS_DIR / "stack", database="pinsite_bench")
    env = {**os.environ}
    started = any(shared for _module, shared in available.values())
    if started:
        began = time.monotonic()
        stack.start(["postgres", "redis", "s3"])
        env = {**os.environ, **stack.env(), "DJANGO_SETTINGS_MODULE": "pinsite.settings"}
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=REPO, env=env, check=True
        )
        print(f"bench stack up in {time.monotonic() - began:.1f} s", flush=True)
    failed = []
    try:
        for area, (module, shared) in available.items():
            print(f"-- {area}", flush=True)
            done = subprocess.run(
                _area_command(module, args.quick),
                cwd=REPO,
                env=env if shared else {**os.environ},
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                print(done.stdout[-2000:], done.stderr[-4000:], file=sys.stderr)
                failed.append(area)
                continue
            figures = json.loads(done.stdout.strip().splitlines()[-1])
            # An area may fill several top-level keys: {"results": {key: figures, ...}}.
            for key, value in (figures.pop("results", None) or {area: figures}).items():
                if isinstance(value, dict):
                    value["quick"] = args.quick
                merge(key, value)
                print(json.dumps({key: value}, indent=2), flush=True)
    finally:
        if started and not args.keep:
            stack.stop()
    print(f"results: {RESULTS_DIR / 'results.json'} and results.md")
    if failed:
        print(f"failed areas: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
