"""The template's schedules, run on the embedded runtime's clock.

On AWS, EventBridge Scheduler invokes the starter every minute and the sweeper and the
reconciler every five (the ``ScheduleV2`` events in template.yaml). ``shipshape serve`` runs
them here, so overdue work escalates, failed starts recover and stores reconcile by
themselves, as a client would see them do on a deployed stack.

The runner reads every ``ScheduleV2`` event of the template: its expression, its state and its
``Input``. An expression the runner cannot honour is refused when the runtime starts, naming
the schedule, rather than never running. Runs follow the runtime's clock, not the wall's: a
test that advances the clock sees the due schedules run, and ``--clock-speed 60`` makes an
hour pass in a minute. A clock that jumps several periods at once runs each schedule once
(Scheduler's catch-up of missed runs is not reproduced; the functions read their work from
the tables, so one run does what the missed ones would have). A failed run is recorded and
the schedule goes on: Scheduler invokes Lambda asynchronously, and an error in one run does
not disable the schedule.
"""

from __future__ import annotations

import json
import re
import threading
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shipshape_local.stack import ACCOUNT, REGION

# Scheduler's rate expressions: rate(value unit), value a positive whole number, the unit
# singular for 1 and plural otherwise (docs: "Schedule types on EventBridge Scheduler").
_RATE = re.compile(r"^rate\((?P<value>[1-9][0-9]*) (?P<unit>minute|minutes|hour|hours|day|days)\)$")
_UNITS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}


class ScheduleNotSupported(ValueError):
    """A schedule of the template that the embedded runtime cannot run as AWS would."""


@dataclass
class Schedule:
    name: str  # the schedule's Name, as deployed (e.g. shipshape-sweeper)
    function: str  # the target function's logical id
    period: timedelta
    payload: Any  # the template's Input; None: the scheduled-event envelope of each run
    enabled: bool = True
    due: datetime | None = None  # the next run, on the runtime's clock
    runs: int = 0
    failures: list[str] = field(default_factory=list)


def period_of(name: str, expression: str) -> timedelta:
    """The period of a ``rate(...)`` expression; any other expression is refused, naming
    the schedule (cron and at expressions are not run by the embedded stack)."""
    match = _RATE.match(expression.strip())
    if match is None:
        raise ScheduleNotSupported(
            f"schedule {name}: {expression!r} is not run by the embedded stack "
            "(it runs rate(N minute|minutes|hour|hours|day|days) schedules)"
        )
    value, unit = int(match["value"]), match["unit"]
    if (value == 1) != (not unit.endswith("s")):
        raise ScheduleNotSupported(
            f"schedule {name}: {expression!r} is not a valid rate expression "
            f"(Scheduler takes rate(1 {unit.rstrip('s')}) and rate({max(value, 2)} "
            f"{unit.rstrip('s')}s))"
        )
    return value * _UNITS[unit.rstrip("s")]


def read_schedules(
    resources: Mapping[str, Mapping[str, Any]], resolve: Callable[[Any], Any]
) -> list[Schedule]:
    """Every ``ScheduleV2`` event of the template's functions, validated."""
    found = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event_id, event in resource.get("Properties", {}).get("Events", {}).items():
            if event.get("Type") != "ScheduleV2":
                continue
            props = event.get("Properties", {})
            name = str(resolve(props["Name"])) if "Name" in props else f"{logical_id}{event_id}"
            raw = props.get("Input")
            try:
                payload = json.loads(raw) if raw is not None else None
            except json.JSONDecodeError as exc:
                raise ScheduleNotSupported(
                    f"schedule {name}: Input is not well-formed JSON ({exc.msg}), which "
                    "Scheduler requires for a Lambda target"
                ) from None
            found.append(
                Schedule(
                    name=name,
                    function=logical_id,
                    period=period_of(name, str(props.get("ScheduleExpression", ""))),
                    payload=payload,
                    enabled=str(props.get("State", "ENABLED")) == "ENABLED",
                )
            )
    return found


def scheduled_event(schedule: Schedule, at: datetime) -> dict[str, Any]:
    """The event a run without ``Input`` delivers: EventBridge's scheduled-event envelope."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": ACCOUNT,
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/{schedule.name}"],
        "detail": {},
    }


class ScheduleRunner:
    """Runs the due schedules whenever ``run_due`` is called: on every change of the clock
    and, once started, on a ticker that also makes the clock run ``speed`` times faster."""

    def __init__(
        self,
        schedules: list[Schedule],
        *,
        invoke: Callable[[str, Any], Any],
        now: Callable[[], datetime],
        advance: Callable[[timedelta], None],
    ) -> None:
        self.schedules = schedules
        self._invoke = invoke
        self._now = now
        self._advance = advance
        self._lock = threading.Lock()  # one pass at a time: a schedule never overlaps itself
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.speed = 1.0
        # Told of each failed run (schedule name, traceback): `serve` prints it.
        self.on_failure: Callable[[str, str], object] | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self, *, speed: float = 1.0, tick: float = 1.0) -> None:
        """Run the schedules from now on, the first run of each one period from now (as a
        schedule created now first fires); the clock runs ``speed`` times real time."""
        if speed < 1:
            raise ValueError("the clock speed is at least 1 (real time)")
        self.speed = speed
        start = self._now()
        for schedule in self.schedules:
            schedule.due = start + schedule.period
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._tick, args=(tick,), name="shipshape-schedules", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        self._stop.set()
        if thread is not None:
            thread.join(timeout=30)

    def _tick(self, tick: float) -> None:
        while not self._stop.wait(tick):
            if self.speed > 1:
                self._advance(timedelta(seconds=tick * (self.speed - 1)))  # runs run_due
            else:
                self.run_due()

    def run_due(self) -> list[str]:
        """Invoke every enabled schedule whose time has come, once; what ran, by name."""
        if self._thread is None or not self._lock.acquire(blocking=False):
            return []  # not started, or a pass is under way (it sees the new time next)
        try:
            ran = []
            now = self._now()
            for schedule in self.schedules:
                if not schedule.enabled or schedule.due is None or schedule.due > now:
                    continue
                while schedule.due <= now:
                    schedule.due += schedule.period
                schedule.runs += 1
                ran.append(schedule.name)
                payload = schedule.payload
                if payload is None:
                    payload = scheduled_event(schedule, now)
                try:
                    self._invoke(schedule.function, payload)
                except Exception:  # noqa: BLE001 - the schedule goes on, as Scheduler's does
                    failure = traceback.format_exc(limit=3)
                    schedule.failures.append(failure)
                    if self.on_failure is not None:
                        self.on_failure(schedule.name, failure)
            return ran
        finally:
            self._lock.release()
