"""The pilot's time: the runtime's manual clock, the queue of what people and systems do
next, and the stack's schedules (the sweeper every 5 minutes, the starter) as EventBridge
runs them.

Within a tick every workflow reaches its next wait before the clock moves on (the actors
watch for that), so the same seed gives the same run.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shipshape_local.pilot.plan import TICK
from shipshape_local.runtime import EmbeddedRuntime, ManualClock


@dataclass(order=True)
class _Event:
    at: datetime
    seq: int
    action: Callable[[], None] = field(compare=False)


class Scheduler:
    def __init__(self, clock: ManualClock, rt: EmbeddedRuntime, counts: Counter[str]) -> None:
        self.clock = clock
        self.rt = rt
        self.counts = counts
        self.queue: list[_Event] = []
        self._ids = itertools.count()

    def at(self, moment: datetime, action: Callable[[], None]) -> None:
        heapq.heappush(self.queue, _Event(moment, next(self._ids), action))

    def scheduled(self, function: str) -> dict[str, Any] | None:
        """A run of a scheduled function; a failed run is the next tick's to make up."""
        try:
            return dict(self.rt.run_function(function, {"source": "aws.scheduler"}))
        except Exception as exc:  # noqa: BLE001 - the schedule just runs it again
            self.counts[f"{function} run failed ({type(exc).__name__})"] += 1
            return None

    def run(
        self,
        limit: datetime,
        *,
        sweeping: Callable[[], bool],
        ticked: Callable[[datetime], None],
    ) -> None:
        """Do what is due, tick by tick, until nothing is left to do or ``limit``; while
        ``sweeping()`` (an exception is open), the sweeper runs on its schedule."""
        next_sweep = self.clock.now()
        while self.clock.now() < limit:
            now = self.clock.now()
            while self.queue and self.queue[0].at <= now:
                heapq.heappop(self.queue).action()
            if sweeping() and now >= next_sweep:
                # The schedule runs the sweeper every 5 minutes; overdue work is found at
                # the next tick at the latest.
                self.scheduled("SweeperFunction")
                next_sweep = now + TICK
            ticked(now)
            if not self.queue and not sweeping():
                break
            upcoming = self.queue[0].at if self.queue else limit
            if sweeping():
                upcoming = min(upcoming, next_sweep)
            self.clock.set(max(upcoming, now + timedelta(minutes=1)))
