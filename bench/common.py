"""What every benchmark returns: figures, each with its floor or target and the ratio, so that
`make bench` can print them all in one table (bench/run.py) and each module can print its own
when run alone (`.venv/bin/python bench/<module>.py`)."""

from __future__ import annotations

import math
import statistics
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass

from rich.console import Console
from rich.table import Table


@dataclass(frozen=True)
class Figure:
    """One measured figure. ``ratio`` is measured / reference (lower is better) where the
    reference is a floor or a target of the same unit; ``meets`` says whether the target
    holds (None: informational, no target)."""

    section: str
    figure: str
    measured: str
    reference: str = ""
    ratio: float | None = None
    meets: bool | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def ratio_figure(
    section: str, figure: str, measured: float, reference: float, unit: str, limit: float
) -> Figure:
    """measured against a floor (or target) in the same unit; meets when the ratio <= limit."""
    ratio = measured / reference if reference else float("inf")
    fmt = _fmt(unit)
    reference_text = fmt(reference) + (f" (target <= {limit:g}x)" if limit != 1 else "")
    return Figure(section, figure, fmt(measured), reference_text, ratio, ratio <= limit)


def _fmt(unit: str):  # type: ignore[no-untyped-def]
    if unit == "ms":
        return lambda v: f"{v:.1f} ms"
    if unit == "$":
        return lambda v: f"${v:.3f}"
    return lambda v: f"{v:,.2f} {unit}".strip()


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by the nearest-rank method."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def table(title: str, figures: Sequence[Figure]) -> Table:
    out = Table(title=title, show_lines=False)
    out.add_column("figure")
    out.add_column("measured", justify="right")
    out.add_column("floor or target", justify="right")
    out.add_column("ratio", justify="right")
    out.add_column("", justify="center")
    section = None
    for f in figures:
        if f.section != section:
            section = f.section
            out.add_row(f"[bold]{section}[/bold]", "", "", "", "")
        verdict = "" if f.meets is None else ("[green]ok[/green]" if f.meets else "[red]over[/red]")
        ratio = "" if f.ratio is None else f"{f.ratio:.2f}x"
        out.add_row(f"  {f.figure}", f.measured, f.reference, ratio, verdict)
    return out


def show(title: str, figures: Sequence[Figure], console: Console | None = None) -> None:
    (console or Console()).print(table(title, figures))


def console() -> Console:
    """Wide enough for the figures table when the output is not a terminal (make bench | tee)."""
    wide = Console()
    return wide if wide.is_terminal else Console(width=150)


def run_alone(
    title: Callable[[int], str], figures: Callable[[Console, int], list[Figure]], default: int
) -> int:
    """A benchmark run on its own: its size from the command line, its table, and exit 1
    when a target is missed."""
    size = int(sys.argv[1]) if len(sys.argv) > 1 else default
    out = console()
    found = figures(out, size)
    show(title(size), found, out)
    return 0 if all(f.meets is not False for f in found) else 1
