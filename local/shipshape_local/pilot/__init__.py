"""`shipshape pilot`: a client's first orders through the real execution layer, on simulated
time, and a report of what the operating model achieved.

Everything goes through the stack's own HTTP routes (signed webhooks, the warehouse route,
the ops API) on the embedded runtime. The pilot is three parts:

- ``scheduler``: the runtime's manual clock, moved in ticks; the queue of what happens next;
  the stack's schedules (sweeper, starter). The same seed gives the same run.
- ``actors``: the storefronts, the warehouse and the operators, acting on that clock (what
  they do, and when, is planned in ``plan`` from the seed).
- ``report``: what happened, read back from the stack once the simulation is over.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from shipshape_local.demo import Api
from shipshape_local.frontdoor import FrontDoorServer
from shipshape_local.pilot.actors import Actors
from shipshape_local.pilot.plan import (
    ALL_CLIENTS,
    LEAD,
    PILOT_START,
    PROFILES,
    PilotOptions,
    PlannedOrder,
    plan,
)
from shipshape_local.pilot.report import Reporter, summarize, totals, write
from shipshape_local.pilot.scheduler import Scheduler
from shipshape_local.runtime import EmbeddedRuntime, ManualClock
from shipshape_local.warehouse import WarehouseSimulator

__all__ = [
    "ALL_CLIENTS",
    "PROFILES",
    "Pilot",
    "PilotOptions",
    "PlannedOrder",
    "plan",
    "run_pilot",
    "totals",
    "write",
]


class Pilot:
    def __init__(self, options: PilotOptions, console: Console) -> None:
        self.options = options
        self.console = console
        self.profile = PROFILES[options.faults]
        self.clock = ManualClock(PILOT_START)

    def run(self, inspect: Callable[[EmbeddedRuntime], None] | None = None) -> dict[str, Any]:
        """Simulate and report; ``inspect`` sees the stack before it stops (tests use it)."""
        started = time.monotonic()
        import shipshape.bootstrap

        with EmbeddedRuntime(
            clock=self.clock,
            faults=self.profile.infrastructure,
            fault_seed=self.options.seed,
            strict=self.options.strict_emulator,
        ) as rt:
            door = FrontDoorServer(rt).start()
            api = Api(door.url)
            tokens = {c: rt.secret(f"shipshape/{c}/warehouse-token") for c in ALL_CLIENTS}
            scheduler = Scheduler(self.clock, rt, Counter())
            actors = Actors(
                self.options, scheduler, rt, shipshape.bootstrap.container(), api,
                WarehouseSimulator(api.send, tokens, LEAD),
            )  # fmt: skip
            rt.lambdas.faults.append(actors.unexpected_failure)
            actors.set_up()
            actors.arrive_all(plan(self.options))
            self._simulate(scheduler, actors)
            wall = time.monotonic() - started
            # What the simulation asked of AWS (before the report's own reads): cost drivers.
            load = {
                "aws_calls": rt.aws_calls(),
                "lambda_invocations": dict(sorted(rt.lambdas.invocations.items())),
            }
            reporter = Reporter(
                actors, load, rt.meter.snapshot(),
                rt.execution_counts(),  # read from the histories: report work
                rt.injected_faults(),
            )  # fmt: skip
            rt.set_faults(None)  # the report reads what happened, undisturbed
            report = reporter.report(wall)
            if inspect is not None:
                inspect(rt)
            door.stop()
        return report

    def _simulate(self, scheduler: Scheduler, actors: Actors) -> None:
        with Progress(
            TextColumn("{task.description}"), BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TextColumn("simulated {task.fields[day]}"), TimeElapsedColumn(),
            console=self.console, transient=True,
        ) as progress:  # fmt: skip
            task = progress.add_task("orders", total=len(actors.orders), day="")

            def ticked(now: datetime) -> None:
                progress.update(
                    task, completed=len(actors.finished), day=now.strftime("%a %d %b %H:%M")
                )

            # Run until every order's story has ended, or a week after the last arrival.
            end = PILOT_START + timedelta(days=self.options.days)
            scheduler.run(
                end + timedelta(days=7), sweeping=lambda: bool(actors.in_exception), ticked=ticked
            )


def run_pilot(options: PilotOptions, console: Console | None = None) -> int:
    console = console or Console()
    if not console.is_terminal:
        console.width = 150
    console.print(
        f"[bold]Shipshape pilot[/]: {options.orders} orders for {', '.join(options.clients)} "
        f"over {options.days} simulated days, faults '{options.faults}', seed {options.seed}"
    )
    report = Pilot(options, console).run()
    report["totals"] = totals(report)
    write(report, options.out)
    summarize(console, report, options.out)
    return 1 if report["unaccounted"] else 0
