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
from tests.integration.conftest import LEAD, audit_actions
from tests.integration.test_escalation_sweeper import open_address_exception

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
    newest = shipshape.bootstrap.container().exceptions.exceptions_of_client("acme-outdoors", 10)
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
        carrier=deps.carrier, notifier=deps.notifier, exceptions=deps.exceptions,
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
    closed = deps.exceptions.get_exception(exception.exception_id)
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
