"""Advisories for the pinned requirements: ``python -m audit.deps`` (run by ``make audit``).

Two checks over ``requirements.txt`` and ``requirements-dev.txt``:

* ``pip-audit`` with its default source, PyPI's JSON API (each release's ``vulnerabilities``).
  When that source cannot be reached, pip-audit skips every package and still prints "No known
  vulnerabilities found"; this says plainly how many packages were really checked.
* ``audit/advisory-floors.txt``: the lowest version pinsite accepts for advisories it knows of.
  A pin below its floor fails, whatever pip-audit could reach.

Exit status 1 on a known vulnerability or a pin below its floor.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

REPO = Path(__file__).resolve().parent.parent
REQUIREMENTS = ("requirements.txt", "requirements-dev.txt")
FLOORS = Path(__file__).resolve().parent / "advisory-floors.txt"


def pins() -> dict[str, Version]:
    """name -> pinned version, from the requirement files and the files they include."""
    found: dict[str, Version] = {}
    todo = [REPO / name for name in REQUIREMENTS]
    while todo:
        for raw in todo.pop().read_text().splitlines():
            line = raw.split("#", 1)[0].strip()
            if line.startswith("-r "):
                todo.append(REPO / line[3:].strip())
            elif line:
                requirement = Requirement(line)
                (spec,) = requirement.specifier  # pinned: exactly one ==
                found[requirement.name.lower().replace("_", "-")] = Version(spec.version)
    return found


def below_floors(pinned: dict[str, Version]) -> list[str]:
    problems = []
    for raw in FLOORS.read_text().splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        name, floor, advisory = raw.split(maxsplit=2)
        if name in pinned and pinned[name] < Version(floor):
            problems.append(f"{name} {pinned[name]} is below {floor}: {advisory}")
    return problems


def pip_audit() -> tuple[list[str], int, int]:
    """(vulnerabilities, packages checked, packages pip-audit listed)."""
    argv = [sys.executable, "-m", "pip_audit", "--disable-pip", "--no-deps"]
    for name in REQUIREMENTS:
        argv += ["-r", str(REPO / name)]
    argv += ["--progress-spinner", "off", "-f", "json", "--timeout", "15"]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=REPO)
    report = json.loads(run.stdout or "{}")
    dependencies = report.get("dependencies", [])
    checked = [d for d in dependencies if "skip_reason" not in d]
    found = [
        f"{d['name']} {d['version']}: {v['id']} (fixed in {', '.join(v.get('fix_versions', []))})"
        for d in checked
        for v in d.get("vulns", [])
    ]
    skipped = [d for d in dependencies if "skip_reason" in d]
    if skipped:
        print(f"  pip-audit skipped {len(skipped)} packages, e.g. {skipped[0]['skip_reason']}")
    return found, len(checked), len(dependencies)


def main() -> int:
    pinned = pins()
    vulnerabilities, checked, listed = pip_audit()
    if listed and not checked:
        print(
            f"audit.deps: pip-audit could not reach its advisory source and checked none of "
            f"the {listed} pinned packages: its 'No known vulnerabilities found' means nothing "
            "on this machine; the advisory floors below are the check that ran."
        )
    else:
        print(f"audit.deps: pip-audit checked {checked} of {listed} pinned packages.")
    floors = below_floors(pinned)
    print(f"audit.deps: {len(pinned)} pins against {FLOORS.name}: {len(floors)} below a floor.")
    for problem in [*vulnerabilities, *floors]:
        print(f"  FINDING: {problem}")
    return 1 if vulnerabilities or floors else 0


if __name__ == "__main__":
    sys.exit(main())
