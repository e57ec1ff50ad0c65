"""Resolutions cannot do what needs two operators: an exception's resolution corrects an
invalid address (validated and standardized) but never redirects a parcel, a cancellation
through an exception waits for a second operator as a status override does, and the label is
always bought for the order's standardized address of record.

Everything runs through the public routes (webhooks, warehouse events, ops API), the real
handlers and the real state machine under moto."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import shipshape.bootstrap
from shipshape.errors import TransientDependencyError
from shipshape.ports import WorkflowEngine
from shipshape_local.issuer import dev_bearer
from shipshape_local.runtime import EmbeddedRuntime, HttpResponse, ManualClock
from shipshape_local.storefronts import GenericStore, ShopifyStore
from shipshape_local.warehouse import WarehouseSimulator
from tests.builders import CORRECTED, JANE, KITE, PORTLAND, TENT, acme_order, paid_shopify_order
from tests.integration.stack import (
    LEAD,
    audit_actions,
    deliver,
    open_exception_of,
    order_in_address_exception,
    place,
    resolve,
    view,
    wait_status,
    work_until_exception,
)

ACME_OPERATOR = dev_bearer("omar.operator")
SECOND_LEAD = dev_bearer("hana.lead")
# A valid address, but not the customer's: where a one-operator redirect would send the parcel.
ELSEWHERE = {
    "name": "Jane Doe",
    "line1": "1200 2nd Ave",
    "city": "Seattle",
    "region": "WA",
    "postal_code": "98101",
    "country_code": "US",
}


def _override(
    runtime: EmbeddedRuntime, order_id: str, body: dict[str, Any], headers: dict[str, str]
) -> HttpResponse:
    return runtime.http(
        "POST", f"/orders/{order_id}/overrides", headers=headers, body=json.dumps(body)
    )


def _review(
    runtime: EmbeddedRuntime, order_id: str, override_id: str, verb: str, headers: dict[str, str]
) -> HttpResponse:
    return runtime.http(
        "POST", f"/orders/{order_id}/overrides/{override_id}/{verb}", headers=headers,
        body=json.dumps({"note": "checked with the client"}),
    )  # fmt: skip


def _exception(runtime: EmbeddedRuntime, exception_id: str) -> dict[str, Any]:
    answer = runtime.http("GET", "/exceptions", headers=LEAD)
    assert answer.status == 200, answer.body
    return next(e for e in answer.json()["exceptions"] if e["exception_id"] == exception_id)


def _label_agrees_with_the_record(order: dict[str, Any]) -> None:
    """The label is for the standardized address of record, which standardizes the raw one."""
    label, standard = order["label"], order["standardized_address"]
    assert (label["destination_country"], label["destination_postal_code"]) == (
        standard["country_code"], standard["postal_code"],
    )  # fmt: skip
    assert standard["country_code"] == order["shipping_address"]["country_code"]


def _stock_of(client_id: str, sku: str) -> tuple[int, int]:
    """(available, reserved) over every lot of a SKU, read through the inventory adapter."""
    found = shipshape.bootstrap.container().inventory.stock_of(client_id, sku)
    return sum(lot.available for lot in found), sum(lot.reserved for lot in found)


# --- an address only corrects an invalid address -------------------------------------------


def test_a_payment_mismatch_retry_may_not_redirect_the_parcel(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given a paid order refunded while it waited for its pick (payment_mismatch), which the
    # storefront then shows paid again
    paid = paid_shopify_order(acme, clock)
    order_id = place(runtime, acme.deliver("orders/paid", paid))
    wait_status(runtime, order_id, "AWAITING_PICK")
    refunded = {**paid, "financial_status": "refunded",
                "updated_at": (clock.now() + timedelta(minutes=5)).isoformat()}  # fmt: skip
    assert deliver(runtime, acme.deliver("orders/updated", refunded)).status == 202
    warehouse.post("acme-outdoors", warehouse.pick_event(warehouse.order(order_id)))
    exception = open_exception_of(runtime, order_id)
    clock.advance(timedelta(minutes=10))
    repaid = {**paid, "updated_at": clock.now().isoformat()}
    assert deliver(runtime, acme.deliver("orders/updated", repaid)).status == 202
    before, trail = view(runtime, order_id), audit_actions(runtime, order_id)

    # When one operator retries it with another address
    redirected = resolve(
        runtime, exception["exception_id"],
        {"action": "retry", "note": "customer wants it at work", "address": ELSEWHERE},
        ACME_OPERATOR,
    )  # fmt: skip

    # Then it is refused naming the field and the two-operator path, and nothing is written
    assert exception["type"] == "payment_mismatch"
    assert (redirected.status, redirected.json()["error"]) == (422, "AddressNotAllowed")
    message = redirected.json()["message"]
    assert message.startswith("address: ") and "payment_mismatch" in message
    assert "shipping_address override" in message and "second operator" in message
    assert "Seattle" not in message and "2nd Ave" not in message
    assert view(runtime, order_id) == before
    assert audit_actions(runtime, order_id) == trail
    assert _exception(runtime, exception["exception_id"])["status"] == "OPEN"

    # And a retry without an address ships to the address of record, label and record agreeing
    retried = resolve(
        runtime, exception["exception_id"], {"action": "retry", "note": "paid again"},
        ACME_OPERATOR,
    )  # fmt: skip
    assert retried.status == 202, retried.body
    assert warehouse.run([order_id]) == {order_id: "SHIPPED"}
    shipped = view(runtime, order_id)
    assert shipped["shipping_address"] == before["shipping_address"]
    assert shipped["label"]["destination_postal_code"] == "97204"
    _label_agrees_with_the_record(shipped)


def test_a_failed_gate_may_not_be_retried_or_waived_to_another_address(
    runtime: EmbeddedRuntime, kite: GenericStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given a Kite & Kin order whose label is bought and refused by the shipping gate (postal
    # takes 8 days; the client promises 5)
    payload = kite.order(
        "KK-77", version=1, lines=[KITE], person=JANE, address=PORTLAND,
        updated_at=clock.now(), payment_status="paid",
    )  # fmt: skip
    order_id = place(runtime, kite.deliver("order.upsert", payload, signed_at=clock.now()))
    exception = work_until_exception(runtime, warehouse, order_id)
    before, trail = view(runtime, order_id), audit_actions(runtime, order_id)

    # When the lead retries it with another address, then waives it with one
    retried = resolve(
        runtime, exception["exception_id"],
        {"action": "retry", "note": "send it to the office", "address": ELSEWHERE},
    )  # fmt: skip
    waived = resolve(
        runtime, exception["exception_id"],
        {"action": "waive", "note": "client approved; new address", "address": ELSEWHERE},
    )  # fmt: skip

    # Then both are refused naming the field, and the order, its label and its trail are as
    # they were
    assert (exception["type"], exception["gate"]) == ("qa_failed", "shipping")
    for answer in (retried, waived):
        assert (answer.status, answer.json()["error"]) == (422, "AddressNotAllowed"), answer.body
        assert answer.json()["message"].startswith("address: ")
        assert "qa_failed" in answer.json()["message"]
    assert view(runtime, order_id) == before
    assert audit_actions(runtime, order_id) == trail

    # And the waiver without an address ships on the label bought for the address of record
    ok = resolve(
        runtime, exception["exception_id"],
        {"action": "waive", "note": "client approved 8-day delivery by email"},
    )  # fmt: skip
    assert ok.status == 202, ok.body
    assert warehouse.run([order_id]) == {order_id: "SHIPPED"}
    shipped = view(runtime, order_id)
    assert shipped["label"] == before["label"]
    assert shipped["shipping_address"] == before["shipping_address"]
    _label_agrees_with_the_record(shipped)


def test_an_address_override_is_refused_once_the_label_is_bought(
    runtime: EmbeddedRuntime, kite: GenericStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given a labelled order waiting on its shipping gate's exception (status EXCEPTION)
    payload = kite.order(
        "KK-78", version=1, lines=[KITE], person=JANE, address=PORTLAND,
        updated_at=clock.now(), payment_status="paid",
    )  # fmt: skip
    order_id = place(runtime, kite.deliver("order.upsert", payload, signed_at=clock.now()))
    work_until_exception(runtime, warehouse, order_id)
    before, trail = view(runtime, order_id), audit_actions(runtime, order_id)

    # When an operator asks to change its address
    asked = _override(
        runtime, order_id,
        {"field": "shipping_address", "value": ELSEWHERE, "reason": "customer moved"}, LEAD,
    )  # fmt: skip

    # Then it is refused (an approved change would leave the label for the old address), and
    # nothing is written
    assert before["status"] == "EXCEPTION" and before["label"] is not None
    assert (asked.status, asked.json()["error"]) == (409, "OverrideConflict"), asked.body
    assert "label" in asked.json()["message"]
    assert view(runtime, order_id) == before
    assert audit_actions(runtime, order_id) == trail


def test_releasing_a_quarantine_may_not_change_a_valid_address(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given an order with a valid address, quarantined by an unexpected failure at reservation
    failures = {"left": 1}

    def broken_once(function: str, event: Any) -> None:
        if event.get("step") == "reserve_inventory" and failures["left"]:
            failures["left"] -= 1
            raise KeyError("warehouse_id")

    runtime.lambdas.faults.append(broken_once)
    order_id = place(runtime, acme_order(acme, clock, 301, [TENT]))
    wait_status(runtime, order_id, "QUARANTINED")
    exception = open_exception_of(runtime, order_id)
    before, trail = view(runtime, order_id), audit_actions(runtime, order_id)

    # When it is released with another address
    moved = resolve(
        runtime, exception["exception_id"],
        {"action": "release", "note": "checked; new address", "address": ELSEWHERE},
    )  # fmt: skip

    # Then it is refused naming the field, and nothing is written
    assert exception["type"] == "automation_failure"
    assert (moved.status, moved.json()["error"]) == (422, "AddressNotAllowed"), moved.body
    assert moved.json()["message"].startswith("address: ")
    assert view(runtime, order_id) == before
    assert audit_actions(runtime, order_id) == trail

    # And the release without one ships it to the address of record
    released = resolve(
        runtime, exception["exception_id"], {"action": "release", "note": "checked the trail"}
    )
    assert released.status == 202, released.body
    assert warehouse.run([order_id]) == {order_id: "SHIPPED"}
    shipped = view(runtime, order_id)
    assert shipped["shipping_address"] == before["shipping_address"]
    _label_agrees_with_the_record(shipped)


def test_an_address_correction_comes_only_with_a_retry(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock
) -> None:
    # Given an open address exception
    order_id = order_in_address_exception(runtime, acme, clock)
    exception_id = open_exception_of(runtime, order_id)["exception_id"]
    trail = audit_actions(runtime, order_id)

    # When it is quarantined with an address
    answer = resolve(
        runtime, exception_id,
        {"action": "quarantine", "note": "customer unreachable", "address": CORRECTED},
    )  # fmt: skip

    # Then it is refused naming the field (an address the workflow would not validate is
    # never stored), and nothing is written
    assert (answer.status, answer.json()["error"]) == (422, "AddressNotAllowed"), answer.body
    assert answer.json()["message"].startswith("address: ")
    assert "retry" in answer.json()["message"]
    assert audit_actions(runtime, order_id) == trail
    assert view(runtime, order_id)["shipping_address"]["postal_code"] is None


def test_an_address_correction_becomes_the_standardized_address_the_label_is_bought_for(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given an open address exception (no ZIP)
    order_id = order_in_address_exception(runtime, acme, clock)
    exception_id = open_exception_of(runtime, order_id)["exception_id"]

    # When the owner corrects it with the ZIP, written loosely
    sloppy = {**CORRECTED, "line1": "500 southwest market street", "city": "portland",
              "region": "or"}  # fmt: skip
    fixed = resolve(
        runtime,
        exception_id,
        {"action": "retry", "note": "ZIP from the customer", "address": sloppy},
    )
    final = warehouse.run([order_id])

    # Then the raw correction is kept, its standardized form is the address of record, and
    # the label is bought for it
    assert fixed.status == 202, fixed.body
    assert final == {order_id: "SHIPPED"}
    shipped = view(runtime, order_id)
    assert shipped["shipping_address"]["line1"] == "500 southwest market street"
    assert shipped["standardized_address"]["line1"] == "500 SW MARKET ST"
    assert shipped["standardized_address"]["postal_code"] == "97204"
    _label_agrees_with_the_record(shipped)
    trail = runtime.http("GET", f"/orders/{order_id}/audit", headers=LEAD).json()["events"]
    resolved = next(e for e in trail if e["action"] == "exception_resolved")
    assert resolved["detail"]["corrected"] == ["shipping_address"]


# --- cancelling through an exception takes two operators ------------------------------------


def test_a_cancel_resolution_waits_for_a_second_operator(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock
) -> None:
    # Given an open address exception
    order_id = order_in_address_exception(runtime, acme, clock)
    exception_id = open_exception_of(runtime, order_id)["exception_id"]

    # When the Acme operator resolves it with cancel (and sends it again, an answer lost)
    body = {"action": "cancel", "note": "customer asked to cancel"}
    asked = resolve(runtime, exception_id, body, ACME_OPERATOR)
    again = resolve(runtime, exception_id, body, ACME_OPERATOR)

    # Then the cancellation is asked for, not done: one pending status override, the
    # exception still open and claimed by the operator, the workflow still waiting
    assert asked.status == 202, asked.body
    answer = asked.json()
    assert (answer["status"], answer["claimed_by"], answer["resolved_by"]) == (
        "CLAIMED", "omar.operator", None,
    )  # fmt: skip
    assert answer["awaiting_approval"] == "o1"
    assert (again.status, again.json()["awaiting_approval"]) == (202, "o1")
    order = view(runtime, order_id)
    assert order["status"] == "EXCEPTION"
    assert [(o["field"], o["value"], o["status"], o["requested_by"], o["reason"])
            for o in order["overrides"]] == [
        ("status", "CANCELLED", "pending", "omar.operator", "customer asked to cancel"),
    ]  # fmt: skip
    assert audit_actions(runtime, order_id).count("override_requested") == 1
    assert runtime.executions()[0]["status"] == "RUNNING"

    # When the same operator tries to approve it, or to resolve the exception another way
    self_approved = _review(runtime, order_id, "o1", "approve", ACME_OPERATOR)
    other_way = resolve(
        runtime, exception_id, {"action": "retry", "note": "fixed", "address": CORRECTED},
        ACME_OPERATOR,
    )  # fmt: skip

    # Then both are refused and the order is still waiting
    assert (self_approved.status, self_approved.json()["error"]) == (403, "Forbidden")
    assert (other_way.status, other_way.json()["error"]) == (409, "ActionNotAllowed")
    assert "o1" in other_way.json()["message"]
    assert view(runtime, order_id)["status"] == "EXCEPTION"

    # When a second operator approves it
    approved = _review(runtime, order_id, "o1", "approve", LEAD)

    # Then the order is cancelled, the exception closed as a cancel, the workflow ends
    # Cancelled, and the trail names both operators
    assert approved.status == 200, approved.body
    assert approved.json()["status"] == "CANCELLED"
    assert runtime.wait_for(lambda: runtime.executions()[0]["status"] == "SUCCEEDED")
    closed = _exception(runtime, exception_id)
    assert (closed["status"], closed["resolution"]["action"]) == ("RESOLVED", "cancel")
    trail = runtime.http("GET", f"/orders/{order_id}/audit", headers=LEAD).json()["events"]
    applied = trail[-1]
    assert (applied["action"], applied["to_status"]) == ("override_applied", "CANCELLED")
    assert (applied["detail"]["requested_by"], applied["detail"]["approved_by"]) == (
        "omar.operator", "olivia.lead",
    )  # fmt: skip
    assert applied["detail"]["closed_exception"] == exception_id
    assert "shipped" not in audit_actions(runtime, order_id)


def test_a_rejected_cancel_leaves_the_exception_to_be_resolved_and_the_order_ships(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given an operator's cancel of an address exception, waiting for approval
    order_id = order_in_address_exception(runtime, acme, clock)
    exception_id = open_exception_of(runtime, order_id)["exception_id"]
    asked = resolve(
        runtime, exception_id, {"action": "cancel", "note": "customer unreachable"}, ACME_OPERATOR
    )
    assert asked.status == 202, asked.body

    # When a lead rejects it (the customer answered), and the operator then corrects the ZIP
    rejected = _review(runtime, order_id, asked.json()["awaiting_approval"], "reject", LEAD)
    fixed = resolve(
        runtime, exception_id,
        {"action": "retry", "note": "customer confirmed the ZIP", "address": CORRECTED},
        ACME_OPERATOR,
    )  # fmt: skip
    final = warehouse.run([order_id])

    # Then the order was never cancelled and ships to the corrected address
    assert rejected.status == 200, rejected.body
    assert [o["status"] for o in rejected.json()["overrides"]] == ["rejected"]
    assert fixed.status == 202, fixed.body
    assert final == {order_id: "SHIPPED"}
    assert "CANCELLED" not in view(runtime, order_id)["status_timestamps"]
    _label_agrees_with_the_record(view(runtime, order_id))


def test_an_approved_cancel_after_reservation_gives_the_stock_back(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given an order with reserved stock, refunded while it waited for its pick
    paid = paid_shopify_order(acme, clock, lines=[TENT])
    start = _stock_of("acme-outdoors", "TENT-2P-GRN")
    order_id = place(runtime, acme.deliver("orders/paid", paid))
    wait_status(runtime, order_id, "AWAITING_PICK")
    refunded = {**paid, "financial_status": "refunded",
                "updated_at": (clock.now() + timedelta(minutes=5)).isoformat()}  # fmt: skip
    assert deliver(runtime, acme.deliver("orders/updated", refunded)).status == 202
    warehouse.post("acme-outdoors", warehouse.pick_event(warehouse.order(order_id)))
    exception = open_exception_of(runtime, order_id)
    held = _stock_of("acme-outdoors", "TENT-2P-GRN")

    # When its owner cancels it and a second operator approves
    asked = resolve(
        runtime, exception["exception_id"],
        {"action": "cancel", "note": "refunded in the storefront"}, ACME_OPERATOR,
    )  # fmt: skip
    waiting = _stock_of("acme-outdoors", "TENT-2P-GRN")
    approved = _review(runtime, order_id, asked.json()["awaiting_approval"], "approve", LEAD)

    # Then the unit stays held while the cancellation waits, and goes back once, when approved
    assert asked.status == 202, asked.body
    assert held == waiting == (start[0] - 1, start[1] + 1)
    assert approved.status == 200, approved.body
    assert runtime.wait_for(lambda: runtime.executions()[0]["status"] == "SUCCEEDED")
    assert _stock_of("acme-outdoors", "TENT-2P-GRN") == start
    assert view(runtime, order_id)["status"] == "CANCELLED"


class _FirstCallbackLost(WorkflowEngine):
    """Fault injection: the first SendTaskFailure fails after the write it follows; the rest
    reach the real state machine."""

    def __init__(self, real: WorkflowEngine) -> None:
        self.real, self.lost = real, False

    def start(self, execution_name: str, payload: dict[str, Any]) -> str:
        return self.real.start(execution_name, payload)

    def succeed(self, task_token: str, output: dict[str, Any]) -> None:
        self.real.succeed(task_token, output)

    def fail(self, task_token: str, error: str, cause: str) -> None:
        if not self.lost:
            self.lost = True
            raise TransientDependencyError("task callback failed: InternalFailure")
        self.real.fail(task_token, error, cause)


def test_an_approval_whose_workflow_callback_failed_is_sent_again_and_stops_the_workflow(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock
) -> None:
    # Given an operator's cancel of an address exception, and a workflow callback that fails
    # once
    order_id = order_in_address_exception(runtime, acme, clock)
    exception_id = open_exception_of(runtime, order_id)["exception_id"]
    asked = resolve(
        runtime, exception_id, {"action": "cancel", "note": "customer asked"}, ACME_OPERATOR
    )
    override_id = asked.json()["awaiting_approval"]
    shipshape.bootstrap.override(
        workflow=_FirstCallbackLost(shipshape.bootstrap.container().workflow)
    )

    # When the lead approves, gets "try again shortly", and approves again; then someone else
    first = _review(runtime, order_id, override_id, "approve", LEAD)
    cancelled = view(runtime, order_id)["status"]
    running = runtime.executions()[0]["status"]
    again = _review(runtime, order_id, override_id, "approve", LEAD)
    other = _review(runtime, order_id, override_id, "approve", SECOND_LEAD)

    # Then the first answer is 503 with the order cancelled but its workflow still waiting;
    # the repeat tells the workflow, which ends Cancelled; the trail records one approval
    assert first.status == 503, first.body
    assert (cancelled, running) == ("CANCELLED", "RUNNING")
    assert again.status == 200, again.body
    assert runtime.wait_for(lambda: runtime.executions()[0]["status"] == "SUCCEEDED")
    assert (other.status, other.json()["error"]) == (409, "OverrideConflict")
    assert audit_actions(runtime, order_id).count("override_applied") == 1
