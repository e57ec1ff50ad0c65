"""Benchmark: the 500-order pilot on the embedded runtime, wall time against the 60 s target,
and where the time goes (the 15 functions with the most cumulative time, by sampling).

Run with `make bench`. Not a test: absolute times drift on a shared machine.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

from rich.console import Console

from shipshape_local.pilot import Pilot, PilotOptions, totals

TARGET_SECONDS = 60.0


def main() -> int:
    orders = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    options = PilotOptions(orders=orders, out=Path("pilot-report/bench"))
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    report = Pilot(options, Console(stderr=True)).run()
    profile.disable()
    wall = time.perf_counter() - started
    report["totals"] = totals(report)
    print(f"pilot: {orders} orders in {wall:.1f} s wall ({orders / wall:.1f} orders/s); "
          f"target {TARGET_SECONDS:.0f} s for 500: ratio {wall / TARGET_SECONDS:.2f}")  # fmt: skip
    print(f"unaccounted: {len(report['unaccounted'])}; final states: "
          f"{report['orders_by_final_state']}")  # fmt: skip
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(15)
    print("where the main thread's time goes (cumulative):")
    print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
