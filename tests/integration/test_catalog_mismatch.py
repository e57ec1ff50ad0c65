"""Lines Shipshape cannot pick by SKU, as the platforms send them, over HTTP and the real ASL:
a line with no SKU or with a SKU the client's SKU master lacks is accepted and opens an owned
catalog_mismatch before any stock is touched; mapping the line to a SKU continues the order to
SHIPPED. Lines with nothing to ship are recorded and shown, never picked; an order of only such
lines completes without a workflow."""

from __future__ import annotations

from typing import Any

from shipshape_local.runtime import EmbeddedRuntime, ManualClock
from shipshape_local.storefronts import ShopifyStore, WooCommerceStore
from shipshape_local.warehouse import WarehouseSimulator
from tests.builders import BERLIN, JANE, LAMP, MUG, TENT, paid_shopify_order
from tests.integration.stack import (
    ACME_OPERATOR,
    LEAD,
    audit_actions,
    deliver,
    queue,
    resolve,
    view,
)


def _in_exception(runtime: EmbeddedRuntime, order_id: str) -> dict[str, Any]:
    assert runtime.wait_for(lambda: view(runtime, order_id)["status"] == "EXCEPTION"), view(
        runtime, order_id
    )
    return view(runtime, order_id)


def _custom_item(payload: dict[str, Any], index: int) -> dict[str, Any]:
    """The order with line ``index`` made a Shopify custom item: it ships, but has no SKU."""
    items = [dict(item) for item in payload["line_items"]]
    items[index] = {**items[index], "sku": None, "product_id": None, "variant_id": None}
    return {**payload, "line_items": items}


def test_a_line_with_no_sku_is_accepted_and_opens_an_owned_catalog_mismatch_then_ships_mapped(
    runtime: EmbeddedRuntime,
    acme: ShopifyStore,
    clock: ManualClock,
    warehouse: WarehouseSimulator,
) -> None:
    # Given a paid Shopify order whose second line is a custom item (no SKU)
    payload = _custom_item(paid_shopify_order(acme, clock, lines=[TENT, MUG]), 1)
    custom_line = str(payload["line_items"][1]["id"])

    # When it is delivered
    answer = deliver(runtime, acme.deliver("orders/paid", payload))
    order_id = answer.json()["order_id"]
    order = _in_exception(runtime, order_id)

    # Then it was accepted, and a catalog_mismatch is open for the client's ops team naming
    # the line, before any stock was reserved; the line is shown among the other lines
    assert (answer.status, answer.json()["outcome"]) == (202, "created")
    [exception] = queue(runtime, "?client=acme-outdoors&type=catalog_mismatch")
    assert exception["order_id"] == order_id
    assert exception["owner"] == "ops"
    assert exception["step"] == "CheckCatalog"
    assert f"line {custom_line} (Enamel camp mug" in exception["detail"]
    assert "has no SKU" in exception["detail"]
    assert exception["remediation"][1].startswith("Resolve with map")
    assert order["reservation"] == []
    assert [line["sku"] for line in order["lines"]] == [TENT.sku]
    assert [(ln["line_id"], ln["kind"], ln["sku"]) for ln in order["other_lines"]] == [
        (custom_line, "no_sku", None)
    ]

    # When an operator claims it and retries without a SKU for the line, then with one the
    # SKU master lacks, then with the right one
    exception_id = exception["exception_id"]
    claimed = runtime.http("POST", f"/exceptions/{exception_id}/claim", headers=ACME_OPERATOR)
    unmapped = resolve(runtime, exception_id, {"action": "retry", "note": "try"}, ACME_OPERATOR)
    unknown = resolve(
        runtime, exception_id,
        {"action": "retry", "note": "it is a mug", "skus": {custom_line: "MUG-NOPE"}},
        ACME_OPERATOR,
    )  # fmt: skip
    mapped = resolve(
        runtime, exception_id,
        {"action": "retry", "note": "it is the enamel mug", "skus": {custom_line: MUG.sku}},
        ACME_OPERATOR,
    )  # fmt: skip
    final = warehouse.run([order_id])

    # Then the first two are refused naming what is missing, nothing changed, and the mapped
    # one continues the order to SHIPPED with the line picked by its SKU
    assert claimed.status == 200
    assert (unmapped.status, unmapped.json()["error"]) == (422, "AcceptanceCriteriaNotMet")
    assert f"line {custom_line} has no SKU" in unmapped.json()["message"]
    assert (unknown.status, unknown.json()["error"]) == (422, "AcceptanceCriteriaNotMet")
    assert "SKU MUG-NOPE is not in the SKU master of acme-outdoors" in unknown.json()["message"]
    assert mapped.status == 202, mapped.body
    assert final == {order_id: "SHIPPED"}
    shipped = view(runtime, order_id)
    assert [(ln["line_id"], ln["sku"]) for ln in shipped["lines"]] == [
        (str(payload["line_items"][0]["id"]), TENT.sku),
        (custom_line, MUG.sku),
    ]
    assert shipped["other_lines"] == []
    actions = audit_actions(runtime, order_id)
    assert actions.count("exception_opened") == 1
    trail = runtime.http("GET", f"/orders/{order_id}/audit", headers=LEAD).json()["events"]
    [resolved] = [e for e in trail if e["action"] == "exception_resolved"]
    assert resolved["detail"]["mapped"] == [{"line_id": custom_line, "sku": MUG.sku}]


def test_a_sku_the_master_lacks_is_a_catalog_mismatch_at_once_not_a_backorder(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock
) -> None:
    # Given a paid order for a SKU Acme's SKU master does not have
    payload = paid_shopify_order(acme, clock, lines=[TENT])
    payload["line_items"][0]["sku"] = "TENT-4P-RED"

    # When it is delivered
    order_id = deliver(runtime, acme.deliver("orders/paid", payload)).json()["order_id"]
    order = _in_exception(runtime, order_id)

    # Then a catalog_mismatch names the SKU in the queue at once; nothing was reserved or
    # backordered
    [exception] = queue(runtime, "?type=catalog_mismatch")
    assert exception["order_id"] == order_id
    assert "SKU TENT-4P-RED is not in the SKU master of acme-outdoors" in exception["detail"]
    assert "BACKORDERED" not in order["status_timestamps"]
    assert order["reservation"] == []


def test_an_order_of_only_lines_with_nothing_to_ship_completes_without_a_workflow(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock
) -> None:
    # Given a paid Shopify order of a gift card alone (requires_shipping false, no SKU)
    payload = paid_shopify_order(acme, clock, lines=[MUG])
    payload["line_items"][0] = {
        **payload["line_items"][0], "sku": None, "requires_shipping": False,
        "title": "Gift card", "name": "Gift card - $50",
    }  # fmt: skip

    # When it is delivered
    answer = deliver(runtime, acme.deliver("orders/paid", payload))
    order = view(runtime, answer.json()["order_id"])

    # Then it is recorded, final, with its line shown and no workflow started
    assert (answer.status, answer.json()["outcome"]) == (202, "created")
    assert (order["status"], order["owner"]) == ("NOTHING_TO_SHIP", "client-success")
    assert order["lines"] == []
    assert [(ln["kind"], ln["title"]) for ln in order["other_lines"]] == [
        ("not_shipped", "Gift card - $50")
    ]
    assert runtime.executions() == []


def test_a_gift_card_beside_a_tent_is_recorded_and_only_the_tent_is_picked(
    runtime: EmbeddedRuntime,
    acme: ShopifyStore,
    clock: ManualClock,
    warehouse: WarehouseSimulator,
) -> None:
    # Given a paid order of a tent and a gift card
    payload = paid_shopify_order(acme, clock, lines=[TENT, MUG])
    payload["line_items"][1] = {
        **payload["line_items"][1], "sku": "GIFT-50", "requires_shipping": False,
    }  # fmt: skip

    # When it is delivered and the warehouse picks and packs it
    order_id = deliver(runtime, acme.deliver("orders/paid", payload)).json()["order_id"]
    final = warehouse.run([order_id])

    # Then it ships with the tent alone picked, the gift card shown beside it
    assert final == {order_id: "SHIPPED"}
    order = view(runtime, order_id)
    assert [ln["sku"] for ln in order["lines"]] == [TENT.sku]
    assert [(ln["kind"], ln["sku"]) for ln in order["other_lines"]] == [("not_shipped", "GIFT-50")]
    assert [a["sku"] for a in order["reservation"]] == [TENT.sku]


def test_a_woocommerce_line_with_an_empty_sku_is_accepted_not_refused(
    runtime: EmbeddedRuntime, nordlicht: WooCommerceStore, clock: ManualClock
) -> None:
    # Given a processing WooCommerce order whose product has no SKU (sku "")
    payload = nordlicht.order(
        4713, status="processing", lines=[LAMP], person=JANE, address=BERLIN,
        created_at=clock.now(), modified_at=clock.now(),
    )  # fmt: skip
    payload["line_items"][0]["sku"] = ""

    # When it is delivered
    answer = deliver(runtime, nordlicht.deliver("order.created", payload))

    # Then it is accepted (WooCommerce disables a webhook after repeated refusals) and waits
    # in a catalog_mismatch for Nordlicht's ops team
    assert (answer.status, answer.json()["outcome"]) == (202, "created")
    _in_exception(runtime, answer.json()["order_id"])
    [exception] = queue(runtime, "?client=nordlicht&type=catalog_mismatch")
    assert exception["owner"] == "ops"
    assert "has no SKU" in exception["detail"]
