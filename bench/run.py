"""`make bench`: every benchmark, then one table of figures, each with its floor or target
and the ratio, measured in this one run. Not a test: absolute times drift on a shared
machine; the ratios, measured side by side, hold better.

The figures also go to pilot-report/bench/figures.json (docs/PERFORMANCE.md quotes them).
Run one benchmark alone with `.venv/bin/python bench/<name>.py`.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import coldstart
import cost
import ingest
import pilot
import sweeper
from common import Figure, console, show

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    out = console()
    started = time.perf_counter()
    found: list[Figure] = []
    found += coldstart.figures(out)
    found += ingest.figures(out)
    found += sweeper.figures(out)
    found += pilot.figures(out)  # writes the pilot report the cost figures are computed from
    found += pilot.strictness_figures(out)
    found += cost.figures(out, pilot.REPORT_DIR / "report.json")
    elapsed = time.perf_counter() - started
    machine = f"{platform.machine()}, {_cpus()} CPUs, Python {platform.python_version()}"
    show(f"Shipshape benchmarks, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC ({machine})", found, out)
    missed = [f for f in found if f.meets is False]
    verdict = f"[red]{len(missed)} over target[/red]" if missed else "every target met"
    out.print(f"{len(found)} figures in {elapsed / 60:.1f} min; {verdict}")
    pilot.REPORT_DIR.mkdir(parents=True, exist_ok=True)
    (pilot.REPORT_DIR / "figures.json").write_text(json.dumps({
        "at": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine,
        "minutes": round(elapsed / 60, 1), "figures": [f.as_dict() for f in found],
    }, indent=2))  # fmt: skip
    (pilot.REPORT_DIR / "figures.md").write_text(markdown(found))
    return 0


def markdown(found: list[Figure]) -> str:
    """The table as Markdown (pilot-report/bench/figures.md), for docs/PERFORMANCE.md."""
    lines = ["| figure | measured | floor or target | ratio | |", "|---|---|---|---|---|"]
    section = None
    for f in found:
        if f.section != section:
            section = f.section
            lines.append(f"| **{section}** | | | | |")
        ratio = "" if f.ratio is None else f"{f.ratio:.2f}x"
        verdict = "" if f.meets is None else ("ok" if f.meets else "**over**")
        cells = (f.figure.strip(), f.measured, f.reference, ratio, verdict)
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


if __name__ == "__main__":
    sys.exit(main())
