"""Edges of exception handling against the real DynamoDB adapter on moto: a long queue, a
workflow that stopped waiting, and a resolution whose hand-over to the workflow failed."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import shipshape.bootstrap
from shipshape.errors import TransientDependencyError
from shipshape.ports import WorkflowEngine
from shipshape.services.fulfillment import HoldRequest, StepContext, hold
from shipshape_local.runtime import EmbeddedRuntime, ManualClock
from tests.builders import NO_ZIP, paid_shopify_order
from tests.integration.stack import LEAD, audit_actions, deliver, open_address_exception, queue

CORRECTED = {
    "line1": "500 SW Market St", "city": "Portland", "region": "OR", "postal_code": "97204",
    "country_code": "US",
}  # fmt: skip


def test_the_queue_shows_the_newest_exceptions_however_long_the_history(
    runtime: EmbeddedRuntime, clock: ManualClock
) -> None:
    # Given 30 exceptions opened one minute apart
    opened = []
    for n in range(30):
        opened.append(open_address_exception(clock, storefront_id=7_000_000 + n).exception_id)
        clock.advance(timedelta(minutes=1))

    # When the repository is asked for at most 10, and an operator reads the whole queue
    newest = shipshape.bootstrap.container().repo.exceptions_of_client("acme-outdoors", 10)
    answer = runtime.http("GET", "/exceptions?client=acme-outdoors", headers=LEAD)

    # Then a limit keeps the newest (a long history never hides what just opened), and the
    # queue lists every one
    assert [e.exception_id for e in newest] == opened[::-1][:10]
    assert answer.status == 200
    assert sorted(e["exception_id"] for e in answer.json()["exceptions"]) == sorted(opened)


def test_a_hold_closes_the_open_exception_and_a_late_resolution_changes_nothing(
    runtime: EmbeddedRuntime, clock: ManualClock
) -> None:
    # Given an open exception whose workflow stopped waiting and went to Hold
    exception = open_address_exception(clock)
    deps = shipshape.bootstrap.container()
    ctx = StepContext(
        repo=deps.repo, clock=deps.clock, client=deps.clients.get("acme-outdoors"),
        carrier=deps.carrier, notifier=deps.notifier,
        inventory=deps.inventory, warehouse=deps.warehouse,
    )  # fmt: skip
    hold(ctx, HoldRequest(order_id=exception.order_id, client_id="acme-outdoors",
                          error={"Error": "States.Timeout", "Cause": ""}))  # fmt: skip
    before = audit_actions(runtime, exception.order_id)

    # When an operator resolves it afterwards
    late = runtime.http(
        "POST", f"/exceptions/{exception.exception_id}/resolve", headers=LEAD,
        body=json.dumps({"action": "retry", "note": "fixed", "address": CORRECTED}),
    )  # fmt: skip

    # Then the exception was closed with the hold, the late resolution is refused, and the
    # order and its trail are unchanged
    closed = deps.repo.get_exception(exception.exception_id)
    assert closed is not None and closed.resolution is not None
    assert closed.resolution["action"] == "hold"
    assert (late.status, late.json()["error"]) == (409, "AlreadyResolved")
    assert audit_actions(runtime, exception.order_id) == before
    order = runtime.http("GET", f"/orders/{exception.order_id}", headers=LEAD).json()
    assert order["status"] == "ON_HOLD"


class _ThrottledOnce(WorkflowEngine):
    """Fault injection: the first SendTaskSuccess is throttled."""

    def __init__(self) -> None:
        self.throttled, self.handed_over = False, []  # type: ignore[var-annotated]

    def start(self, execution_name: str, payload: dict[str, Any]) -> str:
        return execution_name

    def succeed(self, task_token: str, output: dict[str, Any]) -> None:
        if not self.throttled:
            self.throttled = True
            raise TransientDependencyError("task callback failed: ThrottlingException")
        self.handed_over.append((task_token, output["action"]))

    def fail(self, task_token: str, error: str, cause: str) -> None:
        raise AssertionError("not expected")


def test_a_throttled_hand_over_is_retried_by_sending_the_same_resolution_again(
    runtime: EmbeddedRuntime, clock: ManualClock
) -> None:
    # Given an open exception waiting on a task token, and a workflow whose first callback
    # is throttled
    exception = open_address_exception(clock, task_token="token-of-the-wait")
    engine = _ThrottledOnce()
    shipshape.bootstrap.override(workflow=engine)
    body = json.dumps({"action": "retry", "note": "ZIP confirmed", "address": CORRECTED})
    path = f"/exceptions/{exception.exception_id}/resolve"

    # When the operator resolves it, gets "try again", and sends the same resolution again
    first = runtime.http("POST", path, headers=LEAD, body=body)
    again = runtime.http("POST", path, headers=LEAD, body=body)
    other = runtime.http(
        "POST", path, headers=LEAD,
        body=json.dumps({"action": "cancel", "note": "changed my mind"}),
    )  # fmt: skip

    # Then the second attempt hands the recorded resolution to the workflow, once; a different
    # resolution after it is refused; the trail records one resolution
    assert first.status == 503
    assert again.status == 202, again.body
    assert engine.handed_over == [(exception.task_token, "retry")]
    assert (other.status, other.json()["error"]) == (409, "AlreadyResolved")
    assert audit_actions(runtime, exception.order_id).count("exception_resolved") == 1


def test_a_malformed_exception_id_is_404_not_500(runtime: EmbeddedRuntime) -> None:
    # Given / When ids that are not exception ids reach claim and resolve
    answers = [
        runtime.http("POST", "/exceptions/ord_aaaaaaaaaaaaaaaaaaaa.eX/claim", headers=LEAD),
        runtime.http("POST", "/exceptions/x.e/claim", headers=LEAD),
        runtime.http(
            "POST",
            "/exceptions/nonsense/resolve",
            headers=LEAD,
            body=json.dumps({"action": "cancel", "note": "no such thing"}),
        ),
    ]

    # Then each is a precise 404, never a crash
    assert [(a.status, a.json()["error"]) for a in answers] == [(404, "ExceptionNotFound")] * 3


def test_an_order_whose_first_step_failed_leaves_the_pending_start_index(
    runtime: EmbeddedRuntime, acme: Any, clock: ManualClock
) -> None:
    # Given a paid order whose address fails at the first step and opens an exception
    order_id = deliver(
        runtime, acme.deliver("orders/paid", paid_shopify_order(acme, clock, address=NO_ZIP))
    ).json()["order_id"]
    assert runtime.wait_for(
        lambda: (
            runtime.http("GET", f"/orders/{order_id}", headers=LEAD).json()["status"] == "EXCEPTION"
        )
    )

    # When the starter runs later
    clock.advance(timedelta(minutes=5))
    report = runtime.run_function("StarterFunction", {})

    # Then it does not see the order at all (it would crowd out orders whose start failed)
    assert report["examined"] == 0


class _BrokenNotifier:
    """Fault injection: every notification fails."""

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> None:
            raise TransientDependencyError("SNS publish failed: Throttling")

        return fail


def test_a_failed_owner_notice_does_not_lose_the_exception(
    runtime: EmbeddedRuntime, acme: Any, clock: ManualClock
) -> None:
    # Given notifications that fail
    shipshape.bootstrap.override(notifier=_BrokenNotifier())

    # When an address exception opens
    order_id = deliver(
        runtime, acme.deliver("orders/paid", paid_shopify_order(acme, clock, address=NO_ZIP))
    ).json()["order_id"]

    # Then the exception is open, owned and waiting for its resolution all the same
    assert runtime.wait_for(
        lambda: (
            runtime.http("GET", f"/orders/{order_id}", headers=LEAD).json()["status"] == "EXCEPTION"
        )
    )
    [exception] = queue(runtime)
    assert (exception["owner"], exception["status"]) == ("client-success", "OPEN")
    assert runtime.executions()[0]["status"] == "RUNNING"


def test_an_absence_over_the_weekend_does_not_move_work_but_a_workday_absence_does(
    runtime: EmbeddedRuntime, clock: ManualClock
) -> None:
    # Given Saturday in Portland, an exception owned by client success, and its whole team
    # away Friday 17:00 to Monday 08:00 (63 hours, none of them business hours; Acme moves
    # work after 4 business hours)
    from datetime import UTC, datetime

    from shipshape.models import AwayPeriod
    from shipshape.services.away import reassign_from_away

    clock.set(datetime(2026, 11, 21, 20, 0, tzinfo=UTC))
    exception = open_address_exception(clock)
    deps = shipshape.bootstrap.container()
    for person in ("maya.cs", "li.cs"):
        deps.away.mark_away(AwayPeriod(
            client_id="acme-outdoors", person=person,
            starts_at=datetime(2026, 11, 21, 1, 0, tzinfo=UTC),
            ends_at=datetime(2026, 11, 23, 16, 0, tzinfo=UTC),
        ))  # fmt: skip

    def reassign() -> list[tuple[str, str, str]]:
        return reassign_from_away(
            repo=deps.repo, away=deps.away, clients=deps.clients,
            clock=deps.clock, notifier=deps.notifier,
        ).reassigned  # fmt: skip

    # When the reassignment runs over the weekend, and again once both are away all Monday
    over_weekend = reassign()
    for person in ("maya.cs", "li.cs"):
        deps.away.mark_away(AwayPeriod(
            client_id="acme-outdoors", person=person,
            starts_at=datetime(2026, 11, 21, 1, 0, tzinfo=UTC),
            ends_at=datetime(2026, 11, 24, 16, 0, tzinfo=UTC),
        ))  # fmt: skip
    with_workday = reassign()

    # Then the weekend moves nothing; a whole workday away moves it to the next level
    assert over_weekend == []
    assert with_workday == [(exception.exception_id, "client-success", "carla.cs-lead")]
