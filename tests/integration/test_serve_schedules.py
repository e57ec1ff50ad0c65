"""The template's schedules run on the embedded stack as EventBridge Scheduler runs them on
AWS (what `shipshape serve` starts): overdue work escalates with no test calling the sweeper."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shipshape_local.frontdoor import FrontDoorServer
from shipshape_local.issuer import CLIENT_ID, dev_operators
from shipshape_local.login import login
from shipshape_local.runtime import EmbeddedRuntime, ManualClock
from shipshape_local.schedules import ScheduleNotSupported, period_of
from tests.integration.stack import open_address_exception, repository

SCHEDULES = {
    "shipshape-starter": ("StarterFunction", timedelta(minutes=1)),
    "shipshape-sweeper": ("SweeperFunction", timedelta(minutes=5)),
    "shipshape-reconciler": ("ReconcilerFunction", timedelta(minutes=5)),
}


def test_the_runtime_reads_every_schedule_the_template_declares(runtime: EmbeddedRuntime) -> None:
    declared = {s.name: (s.function, s.period) for s in runtime.schedules.schedules}
    assert declared == SCHEDULES
    assert all(s.enabled for s in runtime.schedules.schedules)


def test_started_schedules_escalate_overdue_work_as_the_clock_runs(
    runtime: EmbeddedRuntime, clock: ManualClock
) -> None:
    # Given an invalid address opened Monday 09:00 in Portland (client success has until
    # 11:00), and the schedules running as `serve --clock-speed 3600` runs them
    opened = open_address_exception(clock)
    assert opened.due_at == datetime(2026, 11, 23, 19, 0, tzinfo=UTC)
    runtime.schedules.start(speed=3600, tick=0.02)

    # When three hours of the stack's clock pass, and nobody calls the sweeper
    def escalated() -> bool:
        stored = repository().get_exception(opened.exception_id)
        return stored is not None and stored.level == 1

    assert runtime.wait_for(escalated, timeout=30), "the sweeper's schedule never escalated it"
    runtime.schedules.stop()

    # Then the scheduled sweeper escalated it to the CS lead, who was notified once
    stored = repository().get_exception(opened.exception_id)
    assert stored is not None
    assert stored.owner == "carla.cs-lead"
    assert clock.now() >= datetime(2026, 11, 23, 19, 0, tzinfo=UTC)
    escalations = [
        n["message"] for n in runtime.notifications() if n["message"]["reason"] == "escalated"
    ]
    assert [(m["exception_id"], m["owner"]) for m in escalations] == [
        (opened.exception_id, "carla.cs-lead")
    ]
    # And every schedule ran, the starter more often than the others, and none failed
    runs = {s.name: s.runs for s in runtime.schedules.schedules}
    assert runs["shipshape-sweeper"] >= 24 and runs["shipshape-reconciler"] >= 24
    assert runs["shipshape-starter"] > runs["shipshape-sweeper"]
    assert {s.name: s.failures for s in runtime.schedules.schedules} == {
        name: [] for name in SCHEDULES
    }


def test_a_schedule_runs_once_per_period_of_the_clock(
    runtime: EmbeddedRuntime, clock: ManualClock
) -> None:
    invoked: list[tuple[str, Any]] = []
    runtime.lambdas.faults.append(lambda function, event: invoked.append((function, event)))
    runtime.schedules.start(tick=3600)  # the ticker stays out of the way: the test moves time

    clock.advance(timedelta(seconds=59))
    assert invoked == []  # a schedule first fires one period after it is created
    clock.advance(timedelta(seconds=1))
    assert [f for f, _ in invoked] == ["shipshape-StarterFunction"]
    clock.advance(timedelta(minutes=4))
    assert [f for f, _ in invoked].count("shipshape-SweeperFunction") == 1
    clock.advance(timedelta(hours=2))  # a jump runs each schedule once, not once per period
    assert [f for f, _ in invoked].count("shipshape-SweeperFunction") == 2
    assert [f for f, _ in invoked].count("shipshape-StarterFunction") == 3

    # Each run gets EventBridge's scheduled-event envelope, naming its schedule
    _, event = invoked[0]
    assert event["source"] == "aws.scheduler"
    assert event["detail-type"] == "Scheduled Event"
    assert event["resources"] == [
        "arn:aws:scheduler:us-east-1:123456789012:schedule/default/shipshape-starter"
    ]
    assert event["time"] == "2026-11-23T17:01:00Z"


def test_a_failing_run_does_not_stop_its_schedule(
    runtime: EmbeddedRuntime, clock: ManualClock
) -> None:
    failures = iter([RuntimeError("the sweeper's first run crashes")])

    def crash_once(function: str, event: Any) -> None:
        if function == "shipshape-SweeperFunction":
            error = next(failures, None)
            if error is not None:
                raise error

    runtime.lambdas.faults.append(crash_once)
    told: list[str] = []
    runtime.schedules.on_failure = lambda name, failure: told.append(name)  # serve prints it
    opened = open_address_exception(clock)
    runtime.schedules.start(tick=3600)

    clock.advance(timedelta(hours=3))  # the sweeper's run crashes
    sweeper = next(s for s in runtime.schedules.schedules if s.name == "shipshape-sweeper")
    assert (sweeper.runs, len(sweeper.failures)) == (1, 1)
    assert "the sweeper's first run crashes" in sweeper.failures[0]
    assert told == ["shipshape-sweeper"]
    stored = repository().get_exception(opened.exception_id)
    assert stored is not None and stored.level == 0

    clock.advance(timedelta(minutes=5))  # the next period runs and escalates
    stored = repository().get_exception(opened.exception_id)
    assert stored is not None and (stored.level, stored.owner) == (1, "carla.cs-lead")
    assert (sweeper.runs, len(sweeper.failures)) == (2, 1)


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("cron(0/5 * * * ? *)", "is not run by the embedded stack"),
        ("at(2026-12-01T09:00:00)", "is not run by the embedded stack"),
        ("rate(5 minute)", "is not a valid rate expression"),
        ("rate(1 minutes)", "is not a valid rate expression"),
        ("rate(0 minutes)", "is not run by the embedded stack"),
    ],
)
def test_a_schedule_the_runtime_cannot_run_is_refused_naming_it(expression: str, says: str) -> None:
    edited = {
        "SweeperFunction": {
            "Events": {
                "EveryFiveMinutes": {
                    "Type": "ScheduleV2",
                    "Properties": {
                        "Name": {"Fn::Sub": "${AWS::StackName}-sweeper"},
                        "ScheduleExpression": expression,
                    },
                }
            }
        }
    }
    with pytest.raises(ScheduleNotSupported, match=f"schedule shipshape-sweeper: .*{says}"):
        EmbeddedRuntime(edits=edited)


def test_rate_expressions_read_as_scheduler_reads_them() -> None:
    assert period_of("s", "rate(1 minute)") == timedelta(minutes=1)
    assert period_of("s", "rate(5 minutes)") == timedelta(minutes=5)
    assert period_of("s", "rate(2 hours)") == timedelta(hours=2)
    assert period_of("s", "rate(1 day)") == timedelta(days=1)


def _signed_in_token(runtime: EmbeddedRuntime) -> Callable[[], int]:
    """Sign in as a lead through the local user pool, over HTTP as `shipshape login` does;
    what is returned asks `GET /me` with that ID token and gives the status."""
    door = FrontDoorServer(runtime).start()
    try:
        session = login(
            endpoint=f"{door.url}/cognito-idp", region="us-east-1", client_id=CLIENT_ID,
            username="olivia.lead", password=dev_operators()["olivia.lead"].password,
            new_password=lambda: "unused", mfa_code=lambda: "unused",
        )  # fmt: skip
    finally:
        door.stop()
    bearer = {"Authorization": f"Bearer {session.id_token}"}
    return lambda: runtime.http("GET", "/me", headers=bearer).status


def test_an_operators_session_keeps_real_time_when_the_stacks_clock_runs_fast(
    runtime: EmbeddedRuntime, clock: ManualClock
) -> None:
    # On the stack's clock (tests, the pilot, serve at real speed) an ID token ends its hour
    # when the stack's clock has moved an hour
    me = _signed_in_token(runtime)
    assert me() == 200
    clock.advance(timedelta(hours=2))
    assert me() == 401
    # Under `serve --clock-speed`, sign-in keeps the operator's time: two hours of the
    # stack's clock (12 s at 600x) leave the token valid
    runtime.sessions_on_wall_clock()
    me = _signed_in_token(runtime)
    clock.advance(timedelta(hours=2))
    assert me() == 200
