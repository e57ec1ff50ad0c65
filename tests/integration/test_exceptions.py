"""Exceptions under the real ASL: a failed step opens an owned exception with a business-hours
deadline, operators claim and resolve it through the ops API, and the resolution drives the
workflow (retry with corrected data, cancel, quarantine and release)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from shipshape_local.issuer import dev_bearer
from shipshape_local.runtime import EmbeddedRuntime, HttpResponse, ManualClock
from shipshape_local.storefronts import ShopifyStore
from shipshape_local.warehouse import WarehouseSimulator
from tests.builders import CORRECTED, NO_ZIP, paid_shopify_order
from tests.integration.stack import (
    ACME_OPERATOR,
    LEAD,
    audit_actions,
    deliver,
    order_in_address_exception,
    queue,
)


def _resolve(
    runtime: EmbeddedRuntime, exception_id: str, body: dict[str, Any], headers: dict[str, str]
) -> HttpResponse:
    return runtime.http(
        "POST", f"/exceptions/{exception_id}/resolve", headers=headers, body=json.dumps(body)
    )


def test_invalid_address_opens_an_owned_exception_due_in_business_hours(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock
) -> None:
    # Given Monday 2026-11-23 09:00 in Portland, and a paid order without a postal code
    clock.set(datetime(2026, 11, 23, 17, 0, tzinfo=UTC))

    # When it reaches address validation
    order_id = order_in_address_exception(runtime, acme, clock)

    # Then an address_invalid exception is open, owned by client success, due in 2 business
    # hours (11:00 PST), with its remediation steps; the order is owned by the same team
    [exception] = queue(runtime, "?client=acme-outdoors")
    assert exception["type"] == "address_invalid"
    assert exception["owner"] == "client-success"
    assert exception["due_at"].startswith("2026-11-23T19:00:00")
    assert exception["order_id"] == order_id
    assert exception["remediation"][0].startswith("Contact the customer")
    order = runtime.http("GET", f"/orders/{order_id}", headers=LEAD).json()
    assert (order["status"], order["owner"]) == ("EXCEPTION", "client-success")
    assert audit_actions(runtime, order_id)[-1] == "exception_opened"
    assert queue(runtime, "?owner=client-success&type=address_invalid&status=OPEN") != []
    assert queue(runtime, "?overdue=true") == []
    # and the owner's people were notified with the deadline and remediation, no customer data
    [note] = runtime.notifications()
    assert note["message"]["reason"] == "opened"
    assert note["message"]["recipients"] == ["maya.cs", "li.cs"]
    assert note["message"]["due_at"].startswith("2026-11-23T19:00:00")
    assert note["message"]["remediation"] == exception["remediation"]
    assert note["attributes"]["owner"]["Value"] == "client-success"
    assert "Jane" not in json.dumps(note) and "example.com" not in json.dumps(note)


def test_two_operators_claim_at_once_and_one_wins(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock
) -> None:
    # Given an open exception and two operators who serve Acme
    order_in_address_exception(runtime, acme, clock)
    exception_id = queue(runtime)[0]["exception_id"]
    barrier = threading.Barrier(2)
    answers: list[HttpResponse] = []

    def claim(headers: dict[str, str]) -> None:
        barrier.wait()
        answers.append(runtime.http("POST", f"/exceptions/{exception_id}/claim", headers=headers))

    # When both claim it at the same moment
    threads = [threading.Thread(target=claim, args=(h,)) for h in (LEAD, ACME_OPERATOR)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then exactly one claim wins and the other is told who has it
    assert sorted(a.status for a in answers) == [200, 409]
    loser = next(a for a in answers if a.status == 409)
    assert loser.json()["error"] == "AlreadyClaimed"
    assert queue(runtime)[0]["status"] == "CLAIMED"


def test_still_invalid_correction_is_refused_and_a_valid_one_ships_the_order(
    runtime: EmbeddedRuntime,
    acme: ShopifyStore,
    clock: ManualClock,
    warehouse: WarehouseSimulator,
) -> None:
    # Given an address exception claimed by the Acme operator
    order_id = order_in_address_exception(runtime, acme, clock)
    exception_id = queue(runtime)[0]["exception_id"]
    claimed = runtime.http("POST", f"/exceptions/{exception_id}/claim", headers=ACME_OPERATOR)
    assert claimed.status == 200

    # When the lead tries to resolve it (claimed by someone else), the operator sends a still
    # invalid address, then a corrected one
    not_theirs = _resolve(
        runtime, exception_id, {"action": "retry", "note": "fixed", "address": CORRECTED}, LEAD
    )
    still_bad = _resolve(
        runtime, exception_id,
        {"action": "retry", "note": "customer called", "address": {**CORRECTED, "postal_code": ""}},
        ACME_OPERATOR,
    )  # fmt: skip
    fixed = _resolve(
        runtime, exception_id,
        {"action": "retry", "note": "customer confirmed the ZIP", "address": CORRECTED},
        ACME_OPERATOR,
    )  # fmt: skip
    final = warehouse.run([order_id])

    # Then only the valid correction by the claimant is accepted, and the order ships
    assert (not_theirs.status, not_theirs.json()["error"]) == (409, "AlreadyClaimed")
    assert (still_bad.status, still_bad.json()["error"]) == (422, "AcceptanceCriteriaNotMet")
    assert "postal_code is empty" in still_bad.json()["message"]
    assert fixed.status == 202, fixed.body
    assert final == {order_id: "SHIPPED"}
    actions = audit_actions(runtime, order_id)
    opened = actions.index("exception_opened")
    assert actions[opened : opened + 4] == [
        "exception_opened", "exception_claimed", "exception_resolved", "address_validated",
    ]  # fmt: skip
    trail = runtime.http("GET", f"/orders/{order_id}/audit", headers=LEAD).json()["events"]
    resolved = next(e for e in trail if e["action"] == "exception_resolved")
    assert resolved["actor"] == {"kind": "operator", "id": "omar.operator"}
    assert resolved["detail"]["note"] == "customer confirmed the ZIP"
    assert queue(runtime)[0]["status"] == "RESOLVED"


def test_quarantined_order_is_not_released_without_its_required_fields(
    runtime: EmbeddedRuntime,
    acme: ShopifyStore,
    clock: ManualClock,
    warehouse: WarehouseSimulator,
) -> None:
    # Given an address exception that an operator quarantines
    order_id = order_in_address_exception(runtime, acme, clock)
    first = queue(runtime)[0]["exception_id"]
    quarantine = _resolve(
        runtime, first, {"action": "quarantine", "note": "customer unreachable"}, LEAD
    )
    assert quarantine.status == 202
    assert runtime.wait_for(
        lambda: (
            runtime.http("GET", f"/orders/{order_id}", headers=LEAD).json()["status"]
            == "QUARANTINED"
        )
    )
    quarantined = next(e for e in queue(runtime) if e["status"] == "OPEN")

    # When it is released without a complete address, then with one
    refused = _resolve(
        runtime, quarantined["exception_id"], {"action": "release", "note": "go ahead"}, LEAD
    )
    released = _resolve(
        runtime, quarantined["exception_id"],
        {"action": "release", "note": "address confirmed by email", "address": CORRECTED}, LEAD,
    )  # fmt: skip
    final = warehouse.run([order_id])

    # Then the first is refused naming the missing field, the second releases it, it ships
    assert quarantined["type"] == "automation_failure"
    assert quarantined["owner"] == "ops-on-call"
    assert (refused.status, refused.json().get("error")) == (422, "AcceptanceCriteriaNotMet"), (
        refused.body
    )
    assert "shipping_address: postal_code is empty" in refused.json()["message"]
    assert released.status == 202, released.body
    assert final == {order_id: "SHIPPED"}
    assert "order_quarantined" in audit_actions(runtime, order_id)


def test_an_unexpected_failure_quarantines_the_order_with_what_went_wrong(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock
) -> None:
    # Given the reservation step fails in a way nobody designed for
    def broken_reservation(function: str, event: Any) -> None:
        if event.get("step") == "reserve_inventory":
            raise KeyError("warehouse_id")

    runtime.lambdas.faults.append(broken_reservation)

    # When a paid order arrives
    order_id = deliver(
        runtime, acme.deliver("orders/paid", paid_shopify_order(acme, clock))
    ).json()["order_id"]

    # Then it is quarantined, owned by ops on-call, with the error in the exception
    assert runtime.wait_for(
        lambda: (
            runtime.http("GET", f"/orders/{order_id}", headers=LEAD).json()["status"]
            == "QUARANTINED"
        )
    )
    [exception] = queue(runtime)
    assert (exception["type"], exception["owner"]) == ("automation_failure", "ops-on-call")
    assert (exception["step"], exception["error"]) == ("ReserveInventory", "KeyError")
    assert "warehouse_id" in exception["detail"]


def test_cancel_as_a_resolution_cancels_the_order_once_a_second_operator_approves(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock
) -> None:
    # Given an open address exception
    order_id = order_in_address_exception(runtime, acme, clock)
    exception_id = queue(runtime)[0]["exception_id"]

    # When a lead cancels it, and a second lead approves the cancellation
    cancelled = _resolve(
        runtime, exception_id, {"action": "cancel", "note": "customer asked to cancel"}, LEAD
    )
    approved = runtime.http(
        "POST", f"/orders/{order_id}/overrides/{cancelled.json()['awaiting_approval']}/approve",
        headers=dev_bearer("hana.lead"), body=json.dumps({"note": "ok"}),
    )  # fmt: skip

    # Then the order is cancelled with both names on it, and the workflow ends Cancelled
    assert cancelled.status == 202
    assert approved.status == 200, approved.body
    assert runtime.wait_for(
        lambda: (
            runtime.http("GET", f"/orders/{order_id}", headers=LEAD).json()["status"] == "CANCELLED"
        )
    )
    assert runtime.wait_for(lambda: runtime.executions()[0]["status"] == "SUCCEEDED")
    assert audit_actions(runtime, order_id)[-2:] == ["override_requested", "override_applied"]
    [override] = runtime.http("GET", f"/orders/{order_id}", headers=LEAD).json()["overrides"]
    assert (override["requested_by"], override["reviewed_by"]) == ("olivia.lead", "hana.lead")


def _mark_away(
    runtime: EmbeddedRuntime, person: str, start: datetime, hours: int, headers: dict[str, str]
) -> HttpResponse:
    body = {
        "client_id": "acme-outdoors",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=hours)).isoformat(),
        "note": "out of office",
    }
    return runtime.http("PUT", f"/owners/{person}/away", headers=headers, body=json.dumps(body))


def test_new_exceptions_route_past_an_owner_team_that_is_away(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock
) -> None:
    # Given both members of client success are away today
    start = clock.now() - timedelta(hours=1)
    for person in ("maya.cs", "li.cs"):
        assert _mark_away(runtime, person, start, 48, LEAD).status == 200

    # When an address exception opens
    order_id = order_in_address_exception(runtime, acme, clock)

    # Then it goes to the next level of the chain, and the audit trail says whom it skipped
    [exception] = queue(runtime)
    assert (exception["owner"], exception["level"]) == ("carla.cs-lead", 1)
    trail = runtime.http("GET", f"/orders/{order_id}/audit", headers=LEAD).json()["events"]
    opened = next(e for e in trail if e["action"] == "exception_opened")
    assert opened["detail"]["skipped_away"] == ["client-success"]


def test_open_exceptions_move_off_an_owner_away_longer_than_the_threshold(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock
) -> None:
    # Given an exception owned by client success, whose whole team then goes away for 3 days
    # (Acme reassigns after 4 hours), and one member away for only 2 hours elsewhere
    import shipshape.bootstrap
    from shipshape.services.away import reassign_from_away

    order_id = order_in_address_exception(runtime, acme, clock)
    for person in ("maya.cs", "li.cs"):
        assert _mark_away(runtime, person, clock.now(), 72, LEAD).status == 200
    deps = shipshape.bootstrap.container()

    # When the reassignment runs (twice, as overlapping schedules would)
    def run() -> Any:
        return reassign_from_away(
            repo=deps.repo, away=deps.away, clients=deps.clients,
            clock=deps.clock, notifier=deps.notifier,
        )  # fmt: skip

    first, second = run(), run()

    # Then the exception moved to the next level once, audited, and its new owner was told
    [exception] = queue(runtime)
    assert exception["owner"] == "carla.cs-lead"
    assert [r[1:] for r in first.reassigned] == [("client-success", "carla.cs-lead")]
    assert second.reassigned == []
    assert audit_actions(runtime, order_id).count("exception_reassigned") == 1
    assert [n["message"]["reason"] for n in runtime.notifications()] == ["opened", "reassigned"]


def test_marking_away_is_checked(runtime: EmbeddedRuntime, clock: ManualClock) -> None:
    # Given / When away marks for someone unknown, by an operator of another client scope,
    # and with an end before its start
    unknown = _mark_away(runtime, "nobody.here", clock.now(), 8, LEAD)
    backwards = runtime.http(
        "PUT", "/owners/maya.cs/away", headers=LEAD,
        body=json.dumps({"client_id": "acme-outdoors", "starts_at": "2026-11-24T10:00:00Z",
                         "ends_at": "2026-11-24T09:00:00Z"}),
    )  # fmt: skip
    foreign = runtime.http(
        "PUT", "/owners/ber.cs/away", headers=ACME_OPERATOR,
        body=json.dumps({"client_id": "nordlicht", "starts_at": "2026-11-24T09:00:00Z",
                         "ends_at": "2026-11-24T18:00:00Z"}),
    )  # fmt: skip

    # Then each is refused precisely
    assert (unknown.status, unknown.json()["error"]) == (422, "UnknownOwner")
    assert (backwards.status, backwards.json()["error"]) == (422, "InvalidAwayPeriod")
    assert (foreign.status, foreign.json()) == (
        404, {"error": "UnknownClient", "message": "no client 'nordlicht' among yours"},
    )  # fmt: skip


def test_a_refund_in_the_storefront_stops_fulfilment_as_a_payment_mismatch(
    runtime: EmbeddedRuntime,
    acme: ShopifyStore,
    clock: ManualClock,
    warehouse: WarehouseSimulator,
) -> None:
    # Given a paid order waiting for its pick, which the storefront then refunds
    paid = paid_shopify_order(acme, clock)
    order_id = deliver(runtime, acme.deliver("orders/paid", paid)).json()["order_id"]
    assert runtime.wait_for(lambda: warehouse.order(order_id)["status"] == "AWAITING_PICK")
    refunded = {
        **paid,
        "financial_status": "refunded",
        "updated_at": (clock.now() + timedelta(minutes=5)).isoformat(),
    }
    assert deliver(runtime, acme.deliver("orders/updated", refunded)).status == 202

    # When the warehouse confirms the pick, and an operator tries to retry while still refunded
    warehouse.post("acme-outdoors", warehouse.pick_event(warehouse.order(order_id)))
    assert runtime.wait_for(lambda: warehouse.order(order_id)["status"] == "EXCEPTION")
    [exception] = queue(runtime)
    retry = _resolve(
        runtime, exception["exception_id"], {"action": "retry", "note": "try again"}, LEAD
    )

    # Then nothing ships unpaid: a payment_mismatch exception owned by client success, and a
    # retry is refused until the storefront shows the order paid
    assert (exception["type"], exception["owner"]) == ("payment_mismatch", "client-success")
    assert exception["step"] == "RecordPick"
    assert (retry.status, retry.json()["error"]) == (422, "AcceptanceCriteriaNotMet")
    assert "refunded" in retry.json()["message"]


def test_overdue_exception_escalates_past_an_away_lead_then_resolution_ships_the_order(
    runtime: EmbeddedRuntime,
    acme: ShopifyStore,
    clock: ManualClock,
    warehouse: WarehouseSimulator,
) -> None:
    # Given an address exception opened Monday 09:00 in Portland (due 11:00), and the CS lead,
    # first on the escalation chain, away today
    clock.set(datetime(2026, 11, 23, 17, 0, tzinfo=UTC))
    order_id = order_in_address_exception(runtime, acme, clock)
    assert _mark_away(runtime, "carla.cs-lead", clock.now(), 10, LEAD).status == 200

    # When the deadline passes and the scheduled sweeper runs (twice, overlapping schedules)
    clock.advance(timedelta(hours=2, minutes=30))
    first = runtime.run_function("SweeperFunction", {"source": "aws.scheduler"})
    second = runtime.run_function("SweeperFunction", {"source": "aws.scheduler"})
    [escalated] = queue(runtime)

    # Then it escalated once, past the away lead to the next level, with a new deadline
    assert [(e["from_owner"], e["to_owner"]) for e in first["escalated"]] == [
        ("client-success", "olivia.lead")
    ]
    assert second["escalated"] == []
    assert (escalated["owner"], escalated["level"]) == ("olivia.lead", 2)
    assert escalated["due_at"].startswith("2026-11-23T23:30:00")  # 4 business hours on
    assert [n["message"]["reason"] for n in runtime.notifications()] == ["opened", "escalated"]

    # When the new owner resolves it with a corrected address
    resolved = _resolve(
        runtime, escalated["exception_id"],
        {"action": "retry", "note": "ZIP from the customer's email", "address": CORRECTED}, LEAD,
    )  # fmt: skip
    final = warehouse.run([order_id])

    # Then the order ships, and its trail tells the whole story in order
    assert resolved.status == 202, resolved.body
    assert final == {order_id: "SHIPPED"}
    actions = audit_actions(runtime, order_id)
    story = [a for a in actions if a.startswith("exception_") or a in ("shipped",)]
    assert story == [
        "exception_opened", "exception_escalated", "exception_resolved", "shipped",
    ]  # fmt: skip


def test_a_stock_shortage_resolved_as_partial_ships_what_it_can_and_ends_completed_partial(
    runtime: EmbeddedRuntime,
    acme: ShopifyStore,
    clock: ManualClock,
    warehouse: WarehouseSimulator,
) -> None:
    # Given reservation reports a shortage once (one tent and two mugs ordered; mugs short)
    from shipshape.errors import InventoryShort

    shortages = {"left": 1}

    def mugs_short(function: str, event: Any) -> None:
        if event.get("step") == "reserve_inventory" and shortages["left"]:
            shortages["left"] -= 1
            raise InventoryShort("MUG-ENAMEL-12: 1 of 2 available")

    runtime.lambdas.faults.append(mugs_short)
    order_id = deliver(
        runtime, acme.deliver("orders/paid", paid_shopify_order(acme, clock))
    ).json()["order_id"]
    assert runtime.wait_for(lambda: warehouse.order(order_id)["status"] == "EXCEPTION")
    [exception] = queue(runtime)
    lines = {ln["sku"]: ln["line_id"] for ln in warehouse.order(order_id)["lines"]}

    # When ops try "partial" with the whole order, then ship the tent and one mug
    whole = _resolve(
        runtime, exception["exception_id"],
        {"action": "partial", "note": "ship all",
         "ship_lines": [{"line_id": lines["TENT-2P-GRN"], "quantity": 1},
                        {"line_id": lines["MUG-ENAMEL-12"], "quantity": 2}]}, LEAD,
    )  # fmt: skip
    partial = _resolve(
        runtime, exception["exception_id"],
        {"action": "partial", "note": "client policy: ship what we have",
         "ship_lines": [{"line_id": lines["TENT-2P-GRN"], "quantity": 1},
                        {"line_id": lines["MUG-ENAMEL-12"], "quantity": 1}]}, LEAD,
    )  # fmt: skip
    final = warehouse.run([order_id])

    # Then the whole-order "partial" is refused; the real one ships two units and ends in a
    # state of its own, with what did not ship recorded on the order and in its trail
    assert (exception["type"], exception["owner"]) == ("inventory_short", "ops")
    assert (whole.status, whole.json()["error"]) == (422, "AcceptanceCriteriaNotMet")
    assert partial.status == 202, partial.body
    assert final == {order_id: "COMPLETED_PARTIAL"}
    order = warehouse.order(order_id)
    assert [(ln["sku"], ln["quantity"]) for ln in order["unfulfilled_lines"]] == [
        ("MUG-ENAMEL-12", 1)
    ]
    assert order["owner"] == "client-success"
    assert "shipped_partially" in audit_actions(runtime, order_id)


def test_partial_is_refused_for_an_exception_that_is_not_a_shortage(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock
) -> None:
    # Given an address exception
    order_in_address_exception(runtime, acme, clock)
    [exception] = queue(runtime)

    # When someone answers it with a partial fulfilment
    answer = _resolve(
        runtime, exception["exception_id"],
        {"action": "partial", "note": "ship some", "ship_lines": []}, LEAD,
    )  # fmt: skip

    # Then it is refused: partial answers a stock shortage
    assert (answer.status, answer.json()["error"]) == (409, "ActionNotAllowed")


def test_a_storefront_cancel_during_an_exception_closes_it_and_nothing_ships(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock
) -> None:
    # Given a paid order waiting on an address exception
    paid = paid_shopify_order(acme, clock, address=NO_ZIP)
    order_id = order_in_address_exception(runtime, acme, clock)
    [exception] = queue(runtime)

    # When the storefront cancels it, and an operator then tries to resolve the exception
    cancelled = {**paid, "cancelled_at": clock.now().isoformat(),
                 "updated_at": (clock.now() + timedelta(minutes=1)).isoformat()}  # fmt: skip
    answer = deliver(runtime, acme.deliver("orders/cancelled", cancelled))
    late = _resolve(
        runtime, exception["exception_id"],
        {"action": "retry", "note": "fixed", "address": CORRECTED}, LEAD,
    )  # fmt: skip

    # Then the order is cancelled, the exception closed with it, the workflow ended Cancelled,
    # and the late resolution changed nothing
    assert answer.json()["status"] == "CANCELLED"
    assert runtime.wait_for(lambda: runtime.executions()[0]["status"] == "SUCCEEDED")
    [closed] = queue(runtime)
    assert (closed["status"], closed["resolution"]["action"]) == ("RESOLVED", "cancel")
    assert late.status == 409
    assert warehouse_status(runtime, order_id) == "CANCELLED"
    assert "shipped" not in audit_actions(runtime, order_id)


def test_a_storefront_address_change_after_fulfilment_started_is_recorded_not_applied(
    runtime: EmbeddedRuntime,
    acme: ShopifyStore,
    clock: ManualClock,
    warehouse: WarehouseSimulator,
) -> None:
    # Given a paid order already waiting for its pick
    paid = paid_shopify_order(acme, clock)
    order_id = deliver(runtime, acme.deliver("orders/paid", paid)).json()["order_id"]
    assert runtime.wait_for(lambda: warehouse.order(order_id)["status"] == "AWAITING_PICK")

    # When the storefront sends a new address
    moved = dict(paid["shipping_address"], zip="", address1="1 Elsewhere Rd")
    update = {**paid, "shipping_address": moved,
              "updated_at": (clock.now() + timedelta(minutes=2)).isoformat()}  # fmt: skip
    answer = deliver(runtime, acme.deliver("orders/updated", update))

    # Then the new version is recorded and audited, but the address being picked for stays
    assert answer.json()["outcome"] == "updated"
    assert warehouse.order(order_id)["shipping_address"]["line1"] == "500 SW Market St"
    trail = runtime.http("GET", f"/orders/{order_id}/audit", headers=LEAD).json()["events"]
    assert trail[-1]["detail"]["not_applied"] == ["shipping_address"]


def warehouse_status(runtime: EmbeddedRuntime, order_id: str) -> str:
    return str(runtime.http("GET", f"/orders/{order_id}", headers=LEAD).json()["status"])
