"""The one results file: var/bench/results.json (one key per area) and its markdown rendering."""

from __future__ import annotations

import json
import os
import platform
import statistics
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent.parent / "var" / "bench"


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "note": "one machine runs the app, its services and the load; compare ratios, not absolutes",
    }


def summary(samples: list[float]) -> dict:
    """Median and spread (min, max, and the inter-quartile range) of repeated runs."""
    ordered = sorted(samples)
    quartiles = statistics.quantiles(ordered, n=4) if len(ordered) > 1 else [ordered[0]] * 3
    return {
        "median": round(statistics.median(ordered), 4),
        "min": round(ordered[0], 4),
        "max": round(ordered[-1], 4),
        "iqr": round(quartiles[2] - quartiles[0], 4),
        "runs": len(ordered),
    }


def merge(area: str, figures: dict) -> dict:
    """Put ``figures`` under ``area`` in results.json, keeping the other areas' figures."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / "results.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    results["machine"] = machine()
    results[area] = figures
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    (RESULTS_DIR / "results.md").write_text(render(results))
    return results


def render(results: dict) -> str:
    lines = ["# pinsite benchmark results", ""]
    machine_info = results.get("machine", {})
    lines.append(
        f"Machine: {machine_info.get('cpu')}, {machine_info.get('cores')} cores, "
        f"Python {machine_info.get('python')}. {machine_info.get('note', '')}"
    )
    for area, figures in sorted(results.items()):
        if area == "machine":
            continue
        lines += ["", f"## {area}", "", "| figure | value |", "| --- | --- |"]
        if not isinstance(figures, dict):
            figures = {area: figures}
        texts = []  # many-line values (a query plan) follow the table as code blocks
        for name, value in _flatten(figures):
            if isinstance(value, str) and "\n" in value:
                texts.append((name, value))
                continue
            lines.append(f"| {name} | {value} |")
        for name, value in texts:
            lines += ["", f"`{name}`:", "", "```", value, "```"]
    return "\n".join(lines) + "\n"


def _flatten(figures: dict, prefix: str = ""):
    for key, value in figures.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _flatten(value, name + ".")
        else:
            yield name, value
