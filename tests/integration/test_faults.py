"""Infrastructure faults injected where AWS produces them (see local/shipshape_local/faults.py):
throttled and failing DynamoDB requests, Lambda service errors and timeouts, StartExecution and
SendTaskSuccess outages, a crash right after a write. Orders still ship, each step is recorded
once, and nothing is lost or done twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from shipshape.adapters.dynamodb import order_from, order_key
from shipshape_local.faults import FaultRates
from shipshape_local.runtime import EmbeddedRuntime, HttpResponse, ManualClock
from shipshape_local.storefronts import Delivery, ShopifyStore
from shipshape_local.warehouse import WarehouseSimulator
from tests.builders import paid_shopify_order
from tests.integration.stack import HAPPY_PATH_ACTIONS, audit_actions, deliver, execution_history

STORMY = FaultRates(
    dynamodb_throttle=0.2, dynamodb_error=0.05, lambda_service_error=0.1, lambda_timeout=0.1
)


def _stored(runtime: EmbeddedRuntime, order_id: str) -> dict[str, Any] | None:
    item = runtime.peek_item("OrdersTable", order_key(order_id))
    return order_from(item["doc"]).model_dump(mode="json") if item else None


def _deliver_until_answered(runtime: EmbeddedRuntime, delivery: Delivery) -> HttpResponse:
    """What a storefront does: resend a delivery that got a 5xx."""
    for _ in range(10):
        answer = deliver(runtime, delivery)
        if answer.status < 500:
            return answer
    raise AssertionError(f"still {answer.status} after 10 deliveries")


def test_an_order_ships_through_throttling_errors_and_timeouts_with_each_step_once(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given DynamoDB throttles a fifth of the requests, Lambda's service fails 10 % of task
    # invocations and a tenth of the steps time out after doing their work
    runtime.set_faults(STORMY, seed=1)

    # When a paid order arrives and the warehouse works it
    answer = _deliver_until_answered(
        runtime, acme.deliver("orders/paid", paid_shopify_order(acme, clock))
    )
    order_id = answer.json()["order_id"]
    final = warehouse.run([order_id], timeout=60)
    injected = runtime.injected_faults()
    runtime.set_faults(None)

    # Then every kind of fault happened, and the order shipped with each step recorded once
    assert final == {order_id: "SHIPPED"}, injected
    assert set(injected) == {
        "dynamodb_throttle", "dynamodb_error", "lambda_service_error", "lambda_timeout",
    }, injected  # fmt: skip
    actions = audit_actions(runtime, order_id)
    assert [a for a in actions if not a.endswith("_again")] == HAPPY_PATH_ACTIONS
    # the timeouts reached the state machine, whose Retry ran the steps again
    errors = [
        e["taskFailedEventDetails"]["error"]
        for e in execution_history(runtime, order_id)
        if e["type"] == "TaskFailed"
    ]
    assert "Sandbox.Timedout" in errors, errors


def test_a_crash_right_after_the_order_is_written_is_repaired_by_the_reconciler(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given the webhook function dies right after its first write (before starting the workflow)
    delivery = acme.deliver("orders/paid", paid_shopify_order(acme, clock))
    runtime.set_faults(FaultRates(crash_after_write=1.0))

    # When the delivery arrives, then again once the function is healthy (Shopify resends)
    crashed = deliver(runtime, delivery)
    runtime.set_faults(None)
    again = deliver(runtime, delivery)
    order_id = again.json()["order_id"]
    recorded = _stored(runtime, order_id)
    started_by_webhooks = runtime.execution_exists(order_id)
    clock.advance(timedelta(minutes=2))
    reconciled = runtime.run_function("StarterFunction", {})
    final = warehouse.run([order_id])

    # Then the crash was a 503 (nothing acknowledged), but the order and its audit event were
    # written together; the resend was a duplicate; the reconciler started it; it shipped once
    assert crashed.status == 503
    assert (again.status, again.json()["outcome"]) == (200, "duplicate")
    assert recorded is not None and recorded["pending_start"] is True
    assert started_by_webhooks is False
    assert reconciled["started"] == [order_id]
    assert runtime.execution_exists(order_id)
    assert final == {order_id: "SHIPPED"}
    actions = audit_actions(runtime, order_id)
    assert actions.count("order_received") == 1
    assert actions.count("shipped") == 1


def test_a_start_execution_outage_is_acknowledged_and_repaired_by_the_reconciler(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given Step Functions refuses every StartExecution attempt (botocore retries each)
    runtime.set_faults(FaultRates(start_execution_outage=1.0))

    # When a paid order arrives, and the reconciler runs after the outage
    answer = deliver(runtime, acme.deliver("orders/paid", paid_shopify_order(acme, clock)))
    order_id = answer.json()["order_id"]
    injected = runtime.injected_faults()
    runtime.set_faults(None)
    started_by_webhook = runtime.execution_exists(order_id)
    clock.advance(timedelta(minutes=2))
    reconciled = runtime.run_function("StarterFunction", {})
    final = warehouse.run([order_id])

    # Then the webhook was acknowledged (the order is safe), and the reconciler started it
    assert (answer.status, answer.json()["status"]) == (202, "ACCEPTED")
    assert injected == {"start_execution_outage": 1}
    assert started_by_webhook is False
    assert reconciled["started"] == [order_id]
    assert runtime.execution_exists(order_id)
    assert final == {order_id: "SHIPPED"}


def _awaiting_pick(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock
) -> tuple[str, dict[str, Any]]:
    order_id = deliver(
        runtime, acme.deliver("orders/paid", paid_shopify_order(acme, clock))
    ).json()["order_id"]
    assert runtime.wait_for(
        lambda: (
            (_stored(runtime, order_id) or {}).get("status") == "AWAITING_PICK"
            and (_stored(runtime, order_id) or {}).get("task_token") is not None
        )
    )
    return order_id, _stored(runtime, order_id) or {}


def test_a_send_task_success_outage_is_a_503_and_the_resent_scans_count_once(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given an order waiting for its pick scans, and Step Functions refusing task callbacks
    order_id, _ = _awaiting_pick(runtime, acme, clock)
    pick = warehouse.pick_event(warehouse.order(order_id))
    runtime.set_faults(FaultRates(task_callback_outage=1.0))

    # When the warehouse sends the scans, then resends the same event after the outage
    refused = warehouse.post("acme-outdoors", pick)
    waiting_after_refusal = _stored(runtime, order_id)
    runtime.set_faults(None)
    accepted = warehouse.post("acme-outdoors", pick)
    final = warehouse.run([order_id])

    # Then the first answer said "try again" and nothing moved; the resend went through once
    assert refused[0] == 503, refused
    assert waiting_after_refusal is not None
    assert waiting_after_refusal["status"] == "AWAITING_PICK"
    assert accepted[0] == 202, accepted
    assert final == {order_id: "SHIPPED"}
    assert audit_actions(runtime, order_id).count("pick_confirmed") == 1


def test_a_warehouse_event_cut_off_mid_flight_is_in_progress_until_its_time_runs_out(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given an order waiting for its pick scans, and the warehouse function dying right after
    # its first write (the idempotency record that marks the event in progress)
    order_id, _ = _awaiting_pick(runtime, acme, clock)
    pick = warehouse.pick_event(warehouse.order(order_id))
    runtime.set_faults(FaultRates(crash_after_write=1.0))

    # When the warehouse sends the scans, resends at once, then again once the time the dead
    # invocation had left (its function's timeout) has passed
    cut_off = warehouse.post("acme-outdoors", pick)
    runtime.set_faults(None)
    too_soon = warehouse.post("acme-outdoors", pick)
    expired = runtime.time_out_crashed_invocations()
    accepted = warehouse.post("acme-outdoors", pick)
    final = warehouse.run([order_id])

    # Then: 503, then 409 "in progress" with Retry-After, then accepted, and recorded once
    assert cut_off[0] == 503, cut_off
    assert (too_soon[0], too_soon[1]["error"]) == (409, "EventInProgress")
    assert expired == 1  # the dead invocation's record, and nothing else
    assert accepted[0] == 202, accepted
    assert final == {order_id: "SHIPPED"}
    assert audit_actions(runtime, order_id).count("pick_confirmed") == 1
