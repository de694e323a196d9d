"""``make audit``: every outside security check in turn, then one line each with its time.

Steps (each runs even when one before it failed; the exit status is 1 if any failed):

1. bandit over the code with ``[tool.bandit]`` from pyproject.toml, failing on medium or high;
2. ``semgrep --test``: the project's rules (audit/semgrep.yml) still find what they should;
3. semgrep with those rules over the code; any finding fails;
4. ``audit.deps``: pip-audit and the advisory floors for the pinned requirements;
5. ``audit.scan``: sqlmap and wapiti against a seeded throwaway site.

The tools live outside the project's virtualenv (semgrep and wapiti pin many packages of their
own): ``var/audit-venv`` and ``var/wapiti-venv``, made by the Makefile from
``audit/requirements*.txt``; sqlmap is Debian's package (installed here when missing, as root).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
AUDIT_BIN = REPO / "var" / "audit-venv" / "bin"
SEMGREP_EXCLUDES = [".venv", "var", "tests", "migrations", "audit/semgrep_cases.py"]


def _semgrep(*args: str) -> list[str]:
    # Offline: no metrics, no version check (each waits on the network before scanning).
    return [
        str(AUDIT_BIN / "semgrep"),
        *args,
        "--metrics=off",
        "--disable-version-check",
        "--config",
        "audit/semgrep.yml",
    ]


STEPS: list[tuple[str, list[str]]] = [
    (
        "bandit",
        [
            str(AUDIT_BIN / "bandit"),
            "-c",
            "pyproject.toml",
            "-r",
            ".",
            "-q",
            "--severity-level",
            "medium",
        ],
    ),
    ("semgrep rules", _semgrep("--test", "audit/semgrep_cases.py")),
    (
        "semgrep",
        _semgrep("scan", "--error", "--quiet")
        + [arg for name in SEMGREP_EXCLUDES for arg in ("--exclude", name)]
        + ["."],
    ),
    ("dependencies", [str(AUDIT_BIN / "python"), "-m", "audit.deps"]),
    ("scanners", [sys.executable, "-m", "audit.scan"]),
]


def _ensure_sqlmap() -> None:
    if shutil.which("sqlmap") is None:
        from stack.stack import apt_install  # imported only when sqlmap is missing

        apt_install(["sqlmap"])


def main() -> int:
    _ensure_sqlmap()
    began = time.monotonic()
    results = []
    for name, argv in STEPS:
        print(f"\n=== {name}: {' '.join(argv[:3])} ...", flush=True)
        started = time.monotonic()
        status = subprocess.run(argv, cwd=REPO, check=False).returncode
        results.append((name, status, time.monotonic() - started))
    print("\n=== make audit")
    for name, status, took in results:
        print(f"  {name:<14} {'passed' if status == 0 else f'FAILED ({status})':<12} {took:6.0f} s")
    failed = [name for name, status, _took in results if status != 0]
    print(
        f"  {'total':<14} {'FAILED' if failed else 'passed':<12} {time.monotonic() - began:6.0f} s"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
