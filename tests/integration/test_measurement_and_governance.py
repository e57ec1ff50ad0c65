"""Measurement and governance through the ops API, on the real handlers and the real ASL:
metrics from the audit trail with known answers, the Monday checklist with a known problem in
each item, rules governance, overrides, and operators kept to their clients."""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from shipshape.adapters.dynamodb import order_from
from shipshape_local.issuer import dev_bearer, dev_token
from shipshape_local.runtime import REGION, EmbeddedRuntime, HttpResponse, ManualClock
from shipshape_local.storefronts import PostalAddress, ShopifyStore
from shipshape_local.warehouse import WarehouseSimulator
from tests.builders import paid_shopify_order
from tests.integration.stack import LEAD, audit_actions, datapoints, deliver

LEAD_2 = dev_bearer("hana.lead")
ACME_OPERATOR = dev_bearer("omar.operator")
ACME_VIEWER = dev_bearer("vic.viewer")
NORDLICHT_OPERATOR = dev_bearer("nils.operator")
NO_ZIP = PostalAddress("500 SW Market St", "Portland", "OR", "", "US")
CORRECTED = {
    "line1": "500 SW Market St", "city": "Portland", "region": "OR", "postal_code": "97204",
    "country_code": "US",
}  # fmt: skip
MONDAY_9AM_PORTLAND = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
THREE_HOURS = {"rules": {"exceptions": {"address_invalid": {"sla_hours": 3}}}}


def call(
    runtime: EmbeddedRuntime,
    method: str,
    path: str,
    headers: dict[str, str],
    body: dict[str, Any] | None = None,
) -> HttpResponse:
    return runtime.http(
        method, path, headers=headers, body=json.dumps(body) if body is not None else None
    )


def order_of(runtime: EmbeddedRuntime, order_id: str) -> dict[str, Any]:
    answer = call(runtime, "GET", f"/orders/{order_id}", LEAD)
    assert answer.status == 200, answer.body
    return dict(answer.json())


def wait_status(runtime: EmbeddedRuntime, order_id: str, status: str) -> dict[str, Any]:
    assert runtime.wait_for(lambda: order_of(runtime, order_id)["status"] == status), order_of(
        runtime, order_id
    )
    return order_of(runtime, order_id)


def place(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, n: int, **kw: Any
) -> str:
    payload = paid_shopify_order(acme, clock, 5_600_000 + n, **kw)
    answer = deliver(runtime, acme.deliver("orders/paid", payload))
    assert answer.status == 202, answer.body
    return str(answer.json()["order_id"])


def open_exception(runtime: EmbeddedRuntime, order_id: str) -> dict[str, Any]:
    exception_id = order_of(runtime, order_id)["open_exception_id"]
    [found] = [
        e
        for e in call(runtime, "GET", "/exceptions?client=acme-outdoors", LEAD).json()["exceptions"]
        if e["exception_id"] == exception_id
    ]
    return dict(found)


def resolve(runtime: EmbeddedRuntime, order_id: str, body: dict[str, Any]) -> None:
    exception = open_exception(runtime, order_id)
    answer = call(runtime, "POST", f"/exceptions/{exception['exception_id']}/resolve", LEAD, body)
    assert answer.status == 202, answer.body


def wrong_pick(runtime: EmbeddedRuntime, order: dict[str, Any]) -> None:
    """The picker scans a tent's barcode as the second mug."""
    scans = {
        "type": "pick_scans", "event_id": f"bad-{order['order_id']}", "order_id": order["order_id"],
        "picker": order["picker"],
        "scans": [{"sku": "TENT-2P-GRN", "barcode": "004259346641", "quantity": 1},
                  {"sku": "MUG-ENAMEL-12", "barcode": "002461752466", "quantity": 1},
                  {"sku": "MUG-ENAMEL-12", "barcode": "004259346641", "quantity": 1}],
    }  # fmt: skip
    token = runtime.secret("shipshape/acme-outdoors/warehouse-token")
    answer = call(
        runtime, "POST", "/warehouse/acme-outdoors/events",
        {"Authorization": f"Bearer {token}"}, scans,
    )  # fmt: skip
    assert answer.status == 202, answer.body


def test_metrics_from_the_audit_trail_match_a_seeded_week(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given five Acme orders paid Monday 09:00 in Portland: A, B and E well-formed (E reached
    # Shipshape 20 minutes after the storefront changed it), C and D without a ZIP code
    clock.set(MONDAY_9AM_PORTLAND)
    a, b = place(runtime, acme, clock, 1), place(runtime, acme, clock, 2)
    c = place(runtime, acme, clock, 3, address=NO_ZIP)
    d = place(runtime, acme, clock, 4, address=NO_ZIP)
    e = place(runtime, acme, clock, 5, updated_at=clock.now() - timedelta(minutes=20))
    for order_id in (a, b, e):
        wait_status(runtime, order_id, "AWAITING_PICK")
    for order_id in (c, d):
        wait_status(runtime, order_id, "EXCEPTION")

    # When at 10:00 C's address is corrected (inside its 2-hour SLA), B is picked wrongly and
    # its QA exception retried at once
    clock.advance(timedelta(hours=1))
    resolve(runtime, c, {"action": "retry", "note": "ZIP from the customer", "address": CORRECTED})
    wrong_pick(runtime, order_of(runtime, b))
    wait_status(runtime, b, "EXCEPTION")
    resolve(runtime, b, {"action": "retry", "note": "re-pick against the list"})
    # at 11:00 A, B and C ship
    clock.advance(timedelta(hours=1))
    assert warehouse.run([a, b, c]) == {a: "SHIPPED", b: "SHIPPED", c: "SHIPPED"}
    # at 12:00 D is overdue: the sweeper escalates it; then it is corrected, and D and E ship
    clock.advance(timedelta(hours=1))
    swept = runtime.run_function("SweeperFunction", {"source": "aws.scheduler"})
    assert [x["from_owner"] for x in swept["escalated"]] == ["client-success"]
    resolve(runtime, d, {"action": "retry", "note": "ZIP from the customer", "address": CORRECTED})
    assert warehouse.run([d, e]) == {d: "SHIPPED", e: "SHIPPED"}

    answer = call(runtime, "GET", "/metrics?client=acme-outdoors&days=7", LEAD)
    assert answer.status == 200, answer.body
    m = answer.json()

    # Then every figure is the known answer
    assert (m["from"], m["to"], m["timezone"]) == (
        "2026-11-17",
        "2026-11-23",
        "America/Los_Angeles",
    )
    assert m["orders"] == {"received": 5, "shipped": 5, "completed_partial": 0, "cancelled": 0}
    # paid 09:00; shipped 11:00 (A, B, C) and 12:00 (D, E)
    assert m["fulfillment_hours"]["count"] == 5
    assert (m["fulfillment_hours"]["median"], m["fulfillment_hours"]["p90"]) == (2.0, 3.0)
    assert m["fulfillment_hours"]["histogram"][0] == {"label": "< 4 h", "count": 5}
    assert m["pick_accuracy"] == {"picks": 5, "first_time_right": 4, "rate": 0.8}
    assert m["exceptions"]["opened"] == 3 and m["exceptions"]["rate"] == 0.6
    assert m["exceptions"]["by_type"] == [
        {"type": "address_invalid", "opened": 2, "rate": 0.4},
        {"type": "qa_failed", "opened": 1, "rate": 0.2},
    ]
    # C after 1 h, B at once, D after 3 h
    assert m["time_to_resolution_hours"] == {"count": 3, "average": 1.33, "p90": 2.6}
    assert m["escalations_per_owner"] == [{"owner": "client-success", "escalations": 1}]
    assert m["sla"] == {"met": 2, "missed": 1, "compliance": 0.6667}
    assert m["sync_lag_seconds"]["count"] == 5
    assert (m["sync_lag_seconds"]["max"], m["sync_lag_seconds"]["over_15_minutes"]) == (1200.0, 1)
    monday = m["daily"][-1]
    assert monday == {
        "date": "2026-11-23", "received": 5, "shipped": 5, "exceptions": 3, "sla_met": 2,
        "sla_missed": 1,
    }  # fmt: skip
    assert all(day["received"] == 0 for day in m["daily"][:-1])

    # And the same business events went out as EMF metrics per client (the CloudWatch
    # dashboard's source)
    def points(name: str, key: str) -> list[tuple[str, str, float]]:
        return sorted(
            (d["client_id"], d.get(key, ""), v)
            for d, v in datapoints(runtime, name, function=None)
            if "client_id" in d
        )

    assert points("OrdersShipped", "") == [("acme-outdoors", "", 1.0)] * 5
    assert sorted(v / 3600 for _, _, v in points("FulfillmentTime", "")) == [2, 2, 2, 3, 3]
    assert [t for _, t, _ in points("ExceptionsOpened", "exception_type")] == [
        "address_invalid", "address_invalid", "qa_failed",
    ]  # fmt: skip
    assert points("EscalationsPerOwner", "owner") == [("acme-outdoors", "client-success", 1.0)]
    assert (len(points("SlaMet", "")), len(points("SlaMissed", ""))) == (2, 1)
    assert [g for _, g, _ in points("QaGateFailed", "gate")] == ["post_pick"]


def _tamper(runtime: EmbeddedRuntime, pk: str, sk: str, change: Any) -> None:
    """Corrupt one stored item, as a bug or a hand edit would, for the audit to find."""
    client = boto3.client("dynamodb", region_name=REGION)
    table = runtime.names["OrdersTable"]
    item = client.get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}})["Item"]
    if "B" in item["doc"]:  # an order: its compressed document
        doc = order_from(item["doc"]).model_dump(mode="json")
        change(doc)
        item["doc"] = {"B": zlib.compress(json.dumps(doc).encode())}
    else:
        doc = json.loads(item["doc"]["S"])
        change(doc)
        item["doc"] = {"S": json.dumps(doc)}
    client.put_item(TableName=table, Item=item)


def test_the_monday_checklist_finds_the_known_problem_in_each_item(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given a week with a problem for every item of the checklist:
    clock.set(MONDAY_9AM_PORTLAND)
    late = place(runtime, acme, clock, 11, updated_at=clock.now() - timedelta(minutes=40))
    shipped = place(runtime, acme, clock, 12)
    no_zip = place(runtime, acme, clock, 13, address=NO_ZIP)
    wait_status(runtime, no_zip, "EXCEPTION")
    assert warehouse.run([late, shipped]) == {late: "SHIPPED", shipped: "SHIPPED"}

    def broken_reservation(function: str, event: Any) -> None:
        if event.get("step") == "reserve_inventory":
            raise KeyError("warehouse_id")

    runtime.lambdas.faults.append(broken_reservation)
    quarantined = place(runtime, acme, clock, 14)
    wait_status(runtime, quarantined, "QUARANTINED")
    runtime.lambdas.faults.clear()
    # one shipped order lost its QA results, another event lost its owner
    _tamper(runtime, f"ORDER#{shipped}", "ORDER", lambda doc: doc.update(qa=[]))
    _tamper(runtime, f"ORDER#{late}", "AUDIT#00000003", lambda doc: doc.pop("owner"))
    proposal = {"summary": "Give CS three hours", "base_version": 1, "changes": THREE_HOURS}
    assert (
        call(runtime, "POST", "/rules/acme-outdoors/changes", ACME_OPERATOR, proposal).status == 201
    )
    clock.advance(timedelta(hours=3))  # both exceptions are past their deadlines

    # When the lead asks for the checklist
    answer = call(runtime, "GET", "/checklist?client=acme-outdoors", LEAD)
    assert answer.status == 200, answer.body
    checklist = answer.json()
    items = {item["key"]: item for item in checklist["items"]}

    # Then every item names its problem
    assert list(items) == [
        "sync_lag", "top_exceptions", "audit_sample", "overdue", "failed_automations",
        "rule_changes", "catalog_in_sync",
    ]  # fmt: skip
    assert not checklist["ok"] and not any(item["ok"] for item in items.values())
    # the seeded SKUs were typed by the warehouse, never synced from Acme's Shopify store
    assert {e["sku"]: e["problem"] for e in items["catalog_in_sync"]["entries"]} == {
        "MUG-ENAMEL-12": "never synced from the storefront (typed by the warehouse only)",
        "TENT-2P-GRN": "never synced from the storefront (typed by the warehouse only)",
    }
    [behind] = items["sync_lag"]["entries"]
    assert (behind["order_id"], behind["lag_minutes"]) == (late, "40.0")
    assert [(e["type"], e["owners"]) for e in items["top_exceptions"]["entries"]] == [
        ("address_invalid", "client-success (1)"),
        ("automation_failure", "ops-on-call (1)"),
    ]
    audited = {e["order_id"]: e for e in items["audit_sample"]["entries"]}
    assert set(audited) == {late, shipped, no_zip, quarantined}
    assert audited[shipped]["complete"] == "no"
    assert "pre_pick QA result missing for an order at SHIPPED" in audited[shipped]["problems"]
    assert audited[late]["complete"] == "no"
    assert "event 3 (" in audited[late]["problems"] and "has no owner" in audited[late]["problems"]
    assert audited[no_zip]["complete"] == "yes", audited[no_zip]["problems"]
    overdue = items["overdue"]["entries"]
    assert [(e["type"], e["owner"]) for e in overdue] == [
        ("automation_failure", "ops-on-call"),  # due 10:00 (1 business hour)
        ("address_invalid", "client-success"),  # due 11:00 (2 business hours)
    ]
    assert [e["order_id"] for e in items["failed_automations"]["entries"]] == [quarantined]
    [waiting] = items["rule_changes"]["entries"]
    assert (waiting["version"], waiting["status"], waiting["proposed_by"]) == (
        "2", "proposed", "omar.operator",
    )  # fmt: skip
    assert waiting["changes"] == "rules.exceptions.address_invalid.sla_hours: 2.0 → 3.0"


def test_a_rule_change_is_proposed_approved_by_another_lead_and_decides_new_orders(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock
) -> None:
    clock.set(MONDAY_9AM_PORTLAND)
    # Given a lead proposes giving client success 3 business hours for address problems
    proposal = {"summary": "CS needs three hours", "base_version": 1, "changes": THREE_HOURS}
    proposed = call(runtime, "POST", "/rules/acme-outdoors/changes", LEAD, proposal)
    assert proposed.status == 201, proposed.body
    version = proposed.json()["version"]

    # When the author approves it, it is refused; a viewer may not either
    own = call(runtime, "POST", f"/rules/acme-outdoors/changes/{version}/approve", LEAD)
    viewer = call(runtime, "POST", f"/rules/acme-outdoors/changes/{version}/approve", ACME_VIEWER)
    early = call(runtime, "POST", f"/rules/acme-outdoors/changes/{version}/activate", LEAD)
    assert own.status == 403 and "a different lead must approve it" in own.json()["message"]
    assert viewer.status == 403
    assert early.status == 409 and "not approved" in early.json()["message"]

    # When a second lead approves it and the author activates it
    approved = call(runtime, "POST", f"/rules/acme-outdoors/changes/{version}/approve", LEAD_2)
    active = call(runtime, "POST", f"/rules/acme-outdoors/changes/{version}/activate", LEAD)
    assert approved.status == 200, approved.body
    assert active.status == 200, active.body

    # Then new orders record version 2 and their exceptions are due in 3 business hours
    order_id = place(runtime, acme, clock, 21, address=NO_ZIP)
    wait_status(runtime, order_id, "EXCEPTION")
    assert order_of(runtime, order_id)["rules_version"] == "2"
    assert open_exception(runtime, order_id)["due_at"].startswith("2026-11-23T20:00:00")
    # and the history keeps every version with its release notes, approver and activator
    history = call(runtime, "GET", "/rules/acme-outdoors", ACME_OPERATOR).json()
    assert history["active_version"] == 2
    assert history["active"]["rules"]["exceptions"]["address_invalid"]["sla_hours"] == 3.0
    [v2] = history["versions"]
    assert (v2["status"], v2["proposed_by"], v2["approved_by"], v2["activated_by"]) == (
        "active", "olivia.lead", "hana.lead", "olivia.lead",
    )  # fmt: skip
    assert v2["release_notes"] == ["rules.exceptions.address_invalid.sla_hours: 2.0 → 3.0"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rules": {"exceptions": {"qa_failed": {"sla_hours": -1}}}},
         "rules.exceptions.qa_failed.sla_hours: Input should be greater than 0"),
        ({"rules": {"exceptions": {"address_invalid": {"owner": "nobody-known"}}}},
         "nobody-known"),
        ({"fulfilment": {"partial_policy": "ship_whatever"}},
         "fulfilment.partial_policy: Input should be 'ship_partial', 'hold_all' or 'backorder'"),
        ({"timezone": "Europe/Paris"}, "timezone: not a governed section"),
    ],
)  # fmt: skip
def test_invalid_rules_are_refused_naming_the_field(
    runtime: EmbeddedRuntime, changes: dict[str, Any], message: str
) -> None:
    proposal = {"summary": "try this", "base_version": 1, "changes": changes}
    answer = call(runtime, "POST", "/rules/acme-outdoors/changes", LEAD, proposal)
    assert answer.status == 422, answer.body
    assert message in answer.json()["message"]
    assert call(runtime, "GET", "/rules/acme-outdoors", LEAD).json()["versions"] == []


def test_operators_are_kept_to_their_clients_and_refusals_are_recorded(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock
) -> None:
    # Given an Acme order with an open exception
    order_id = place(runtime, acme, clock, 31, address=NO_ZIP)
    wait_status(runtime, order_id, "EXCEPTION")
    exception_id = open_exception(runtime, order_id)["exception_id"]

    # When Nordlicht's operator reaches for Acme's order, exception, metrics and rules
    attempts = [
        ("GET", f"/orders/{order_id}", None),
        ("GET", f"/orders/{order_id}/audit", None),
        ("POST", f"/exceptions/{exception_id}/claim", None),
        ("GET", "/metrics?client=acme-outdoors", None),
        ("GET", "/checklist?client=acme-outdoors", None),
        ("GET", "/exceptions?client=acme-outdoors", None),
        ("POST", f"/orders/{order_id}/overrides",
         {"field": "owner", "value": "ops", "reason": "mine now"}),
    ]  # fmt: skip
    answers = [call(runtime, m, p, NORDLICHT_OPERATOR, b) for m, p, b in attempts]

    # Then to Nordlicht's operator none of it exists (404, as for made-up ids), nothing
    # changed, and each refusal is recorded for Acme's review
    assert [a.status for a in answers] == [404] * len(attempts), [a.body for a in answers]
    not_theirs = {
        "error": "OrderNotFound", "message": f"no order {order_id} among your clients",
    }  # fmt: skip
    no_client = {"error": "UnknownClient", "message": "no client 'acme-outdoors' among yours"}
    no_exception = {
        "error": "ExceptionNotFound", "message": f"no exception {exception_id} among your clients",
    }  # fmt: skip
    assert [a.json() for a in answers] == [
        not_theirs, not_theirs, no_exception, no_client, no_client, no_client, not_theirs,
    ]  # fmt: skip
    assert open_exception(runtime, order_id)["claimed_by"] is None
    assert order_of(runtime, order_id)["overrides"] == []
    client = boto3.client("dynamodb", region_name=REGION)
    denials = client.query(
        TableName=runtime.names["OrdersTable"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "DENIED#acme-outdoors"}},
    )["Items"]
    recorded = [json.loads(i["doc"]["S"]) for i in denials]
    assert len(recorded) == len(attempts)
    assert {(r["subject"], r["method"], r["path"]) for r in recorded} == {
        ("nils.operator", m, p.partition("?")[0]) for m, p, _ in attempts
    }
    # and the viewer of Acme may read but not act
    assert call(runtime, "GET", f"/orders/{order_id}", ACME_VIEWER).status == 200
    claim = call(runtime, "POST", f"/exceptions/{exception_id}/claim", ACME_VIEWER)
    assert claim.status == 403 and "role viewer" in claim.json()["message"]


def test_overrides_apply_with_a_reason_and_protected_ones_wait_for_a_second_operator(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock
) -> None:
    # Given an Acme order waiting for its pick, with stock reserved for it
    order_id = place(runtime, acme, clock, 41)
    wait_status(runtime, order_id, "AWAITING_PICK")

    # When an operator hands it to ops on-call (not protected) with a reason
    owner = call(
        runtime, "POST", f"/orders/{order_id}/overrides", ACME_OPERATOR,
        {"field": "owner", "value": "ops-on-call", "reason": "picker called in sick"},
    )  # fmt: skip
    # and asks to cancel it (protected), without and then with a reason
    no_reason = call(
        runtime, "POST", f"/orders/{order_id}/overrides", ACME_OPERATOR,
        {"field": "status", "value": "CANCELLED"},
    )  # fmt: skip
    cancel = call(
        runtime, "POST", f"/orders/{order_id}/overrides", ACME_OPERATOR,
        {"field": "status", "value": "CANCELLED", "reason": "customer called to cancel"},
    )  # fmt: skip
    self_approved = call(
        runtime, "POST", f"/orders/{order_id}/overrides/o2/approve", ACME_OPERATOR, {}
    )

    # Then the owner changed at once; the cancel waits: its author may not approve it
    assert owner.status == 201, owner.body
    assert owner.json()["owner"] == "ops-on-call"
    assert no_reason.status == 422 and "reason" in no_reason.json()["message"]
    assert cancel.status == 201, cancel.body
    assert cancel.json()["status"] == "AWAITING_PICK"
    assert [(o["field"], o["status"]) for o in cancel.json()["overrides"]] == [
        ("owner", "applied"), ("status", "pending"),
    ]  # fmt: skip
    assert self_approved.status == 403
    assert "a second operator must approve it" in self_approved.json()["message"]

    # When a lead approves it
    approved = call(
        runtime, "POST", f"/orders/{order_id}/overrides/o2/approve", LEAD, {"note": "confirmed"}
    )

    # Then the order is cancelled, its stock released, its workflow stopped, all in the trail
    assert approved.status == 200, approved.body
    order = wait_status(runtime, order_id, "CANCELLED")
    assert order["reservation"] == []
    assert order["overrides"][1]["reviewed_by"] == "olivia.lead"
    assert runtime.wait_for(
        lambda: (
            next(e for e in runtime.executions() if e["name"] == order_id)["status"] != "RUNNING"
        )
    )
    actions = audit_actions(runtime, order_id)
    assert actions[-3:] == ["override_applied", "override_requested", "override_applied"]
    again = call(runtime, "POST", f"/orders/{order_id}/overrides/o2/approve", LEAD_2, {})
    assert again.status == 409


def test_shipshape_checklist_prints_each_clients_checklist_from_the_ops_api(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock
) -> None:
    # Given `shipshape serve`'s front door with an Acme exception past its deadline
    from shipshape_local.checklist import fetch
    from shipshape_local.cli import main
    from shipshape_local.frontdoor import FrontDoorServer

    clock.set(MONDAY_9AM_PORTLAND)
    wait_status(runtime, place(runtime, acme, clock, 51, address=NO_ZIP), "EXCEPTION")
    clock.advance(timedelta(hours=3))
    door = FrontDoorServer(runtime).start()
    try:
        # When the lead runs the command for every client, and Acme's viewer for Nordlicht
        everyone = fetch(door.url, dev_token("olivia.lead"), [])
        lead = dev_token("olivia.lead")
        status = main(
            ["checklist", "--url", door.url, "--token", lead, "--client", "acme-outdoors"]
        )
        refused = main(
            ["checklist", "--url", door.url, "--token", dev_token("vic.viewer"),
             "--client", "nordlicht"]
        )  # fmt: skip
    finally:
        door.stop()

    # Then every client has its seven items, Acme's overdue one is named, and the exit status
    # says "needs attention" (1) or "unavailable" (2)
    assert [c["client_id"] for c in everyone] == ["acme-outdoors", "kite-and-kin", "nordlicht"]
    assert all(len(c["items"]) == 7 for c in everyone)
    acme_items = {i["key"]: i for i in everyone[0]["items"]}
    assert not acme_items["overdue"]["ok"]
    assert (status, refused) == (1, 2)
