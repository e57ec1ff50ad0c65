"""Payment states per client over the HTTP webhook route: a partly paid order waits with its
owner until the storefront says paid; a partial refund takes its units off an order not yet
picked (its stock released with the order write, audited), and holds one already picked in a
payment_mismatch owned per the client's rules. Refunds are shaped as Shopify's REST order
publishes them (``refunds[].refund_line_items[]``: ``line_item_id``, ``quantity``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from shipshape_local.runtime import EmbeddedRuntime, ManualClock
from shipshape_local.storefronts import BigCommerceStore, ShopifyStore, WooCommerceStore
from shipshape_local.warehouse import WarehouseSimulator
from tests.builders import BERLIN, JANE, KITE, LAMP, LONDON, TENT, paid_shopify_order
from tests.integration.stack import (
    LEAD,
    audit_actions,
    deliver,
    open_exception_of,
    resolve,
    units,
    view,
    wait_status,
)

ACME = "acme-outdoors"
KITE_HASH = "q8kz3m1v4w"


def _later(
    order: dict[str, Any], clock: ManualClock, minutes: int, **fields: Any
) -> dict[str, Any]:
    """The order as the storefront sends it ``minutes`` later, with ``fields`` changed."""
    clock.advance(timedelta(minutes=minutes))
    return {**order, "updated_at": clock.now().isoformat(), **fields}


def _refund_of_line(order: dict[str, Any], index: int, quantity: int) -> dict[str, Any]:
    """A Shopify refund of ``quantity`` units of the order's line ``index``."""
    item = order["line_items"][index]
    return {
        "id": 900_000 + index,
        "refund_line_items": [{"line_item_id": item["id"], "quantity": quantity}],
        "transactions": [
            {"kind": "refund", "status": "success", "amount": f"{float(item['price']):.2f}"}
        ],
    }


def _awaiting_pick(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> tuple[str, dict[str, Any]]:
    paid = paid_shopify_order(acme, clock)
    order_id = deliver(runtime, acme.deliver("orders/paid", paid)).json()["order_id"]
    assert runtime.wait_for(lambda: warehouse.order(order_id)["status"] == "AWAITING_PICK")
    return order_id, paid


def test_a_partly_paid_order_waits_with_its_owner_until_the_storefront_says_paid(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock
) -> None:
    # Given Acme's order, of which the customer paid a deposit only
    placed = paid_shopify_order(acme, clock, financial_status="partially_paid")

    # When it arrives
    answer = deliver(runtime, acme.deliver("orders/create", placed))
    order_id = answer.json()["order_id"]

    # Then it waits in PARTIALLY_PAID, owned by client success (Acme's rules), and no
    # fulfilment starts
    assert answer.status == 202
    waiting = view(runtime, order_id)
    assert (waiting["status"], waiting["owner"], waiting["payment"]) == (
        "PARTIALLY_PAID", "client-success", "partially_paid",
    )  # fmt: skip
    assert audit_actions(runtime, order_id) == ["order_received"]

    # When the storefront then says paid
    paid = _later(placed, clock, 10, financial_status="paid")
    assert deliver(runtime, acme.deliver("orders/paid", paid)).status == 202

    # Then fulfilment starts and runs to the pick
    started = wait_status(runtime, order_id, "AWAITING_PICK")
    assert started["owner"] == "warehouse"
    assert audit_actions(runtime, order_id)[:2] == ["order_received", "fulfilment_requested"]


def test_a_partial_refund_before_picking_takes_the_line_off_and_releases_its_stock(
    runtime: EmbeddedRuntime,
    acme: ShopifyStore,
    clock: ManualClock,
    warehouse: WarehouseSimulator,
) -> None:
    # Given a paid order (a tent and two mugs) waiting for its pick, its stock reserved
    order_id, paid = _awaiting_pick(runtime, acme, clock, warehouse)
    tent_before = units(ACME, TENT.sku)
    mugs_before = units(ACME, "MUG-ENAMEL-12")

    # When the storefront refunds the tent in full, before anything is picked
    refunded = _later(
        paid, clock, 5, financial_status="partially_refunded", refunds=[_refund_of_line(paid, 0, 1)]
    )
    answer = deliver(runtime, acme.deliver("orders/updated", refunded))

    # Then the tent leaves the lines to pick and the pick list, its unit goes back to stock;
    # the mugs stay reserved; the order still waits for its pick
    assert answer.status == 202
    order = view(runtime, order_id)
    assert [line["sku"] for line in order["lines"]] == ["MUG-ENAMEL-12"]
    assert order["status"] == "AWAITING_PICK"
    assert units(ACME, TENT.sku) == (tent_before[0] + 1, tent_before[1] - 1)
    assert units(ACME, "MUG-ENAMEL-12") == mugs_before
    assert [e["sku"] for e in order["pick_list"]["entries"]] == ["MUG-ENAMEL-12"]
    # and the trail says which line and how many units went, and the stock released
    events = runtime.http("GET", f"/orders/{order_id}/audit", headers=LEAD).json()["events"]
    last = events[-1]
    tent_line = str(paid["line_items"][0]["id"])
    assert last["action"] == "lines_refunded"
    assert last["detail"]["outcome"] == "removed"
    assert last["detail"]["refunded"] == [{"line_id": tent_line, "sku": TENT.sku, "quantity": 1}]
    assert last["detail"]["removed_lines"] == [tent_line]
    assert [(s["sku"], s["quantity"]) for s in last["detail"]["stock_released"]] == [(TENT.sku, 1)]

    # When the same refund version is delivered again
    again = deliver(runtime, acme.deliver("orders/updated", refunded))

    # Then it is a duplicate: nothing written, no stock moved twice
    assert (again.status, again.json()["outcome"]) == (200, "duplicate")
    assert len(audit_actions(runtime, order_id)) == len(events)
    assert units(ACME, TENT.sku) == (tent_before[0] + 1, tent_before[1] - 1)

    # When the warehouse works the order's pick list as it now stands, to the parcel
    assert warehouse.run([order_id]) == {order_id: "SHIPPED"}

    # Then the mugs shipped without the tent: its unit stays in stock, never consumed
    assert [line["sku"] for line in view(runtime, order_id)["lines"]] == ["MUG-ENAMEL-12"]
    assert units(ACME, TENT.sku) == (tent_before[0] + 1, tent_before[1] - 1)
    assert units(ACME, "MUG-ENAMEL-12") == (mugs_before[0], mugs_before[1] - 2)


def test_a_partial_refund_after_picking_opens_a_payment_mismatch_owned_per_the_rules(
    runtime: EmbeddedRuntime,
    acme: ShopifyStore,
    clock: ManualClock,
    warehouse: WarehouseSimulator,
) -> None:
    # Given a paid order picked and waiting for its pack data
    order_id, paid = _awaiting_pick(runtime, acme, clock, warehouse)
    warehouse.post(ACME, warehouse.pick_event(warehouse.order(order_id)))
    wait_status(runtime, order_id, "AWAITING_PACK")
    lines_before = view(runtime, order_id)["lines"]

    # When the storefront refunds one of the two mugs
    refunded = _later(
        paid, clock, 5, financial_status="partially_refunded", refunds=[_refund_of_line(paid, 1, 1)]
    )
    assert deliver(runtime, acme.deliver("orders/updated", refunded)).status == 202

    # Then the refunded unit is not taken off silently: a payment_mismatch opens at once,
    # owned by client success (Acme's rules), with the refund's remediation first
    exception = open_exception_of(runtime, order_id)
    assert (exception["type"], exception["owner"]) == ("payment_mismatch", "client-success")
    assert exception["step"] == "AwaitPackData"
    assert exception["remediation"][0].startswith("Check the refund in the storefront")
    assert "client's approval" in exception["remediation"][1]
    order = wait_status(runtime, order_id, "EXCEPTION")
    assert order["lines"] == lines_before
    held = [e for e in runtime.http("GET", f"/orders/{order_id}/audit", headers=LEAD).json()[
        "events"] if e["action"] == "lines_refunded"]  # fmt: skip
    assert [e["detail"]["outcome"] for e in held] == ["held"]
    assert held[0]["detail"]["refunded"][0]["quantity"] == 1

    # When client success settles it (the client approved shipping the parcel as picked)
    answer = resolve(
        runtime, exception["exception_id"],
        {"action": "retry", "note": "client approved shipping the refunded mug"},
    )  # fmt: skip

    # Then the workflow goes on waiting for the pack, and nothing holds the order any more
    assert answer.status == 202, answer.body
    assert wait_status(runtime, order_id, "AWAITING_PACK")["refund_unsettled"] is None
    assert runtime.wait_for(lambda: warehouse.order(order_id)["status"] == "AWAITING_PACK")


def test_a_woocommerce_partial_refund_opens_a_payment_mismatch(
    runtime: EmbeddedRuntime,
    nordlicht: WooCommerceStore,
    clock: ManualClock,
    warehouse: WarehouseSimulator,
) -> None:
    # Given Nordlicht's paid WooCommerce order waiting for its pick
    placed = nordlicht.order(
        4_100_001, lines=[LAMP], person=JANE, address=BERLIN, created_at=clock.now(),
        modified_at=clock.now(), status="processing",
    )  # fmt: skip
    order_id = deliver(runtime, nordlicht.deliver("order.created", placed)).json()["order_id"]
    assert runtime.wait_for(lambda: warehouse.order(order_id)["status"] == "AWAITING_PICK")

    # When the store refunds part of it: WooCommerce's order lists the refund (id, reason,
    # negative total), not which lines it was for
    clock.advance(timedelta(minutes=5))
    later = clock.now().strftime("%Y-%m-%dT%H:%M:%S")
    refunded = {
        **placed,
        "date_modified": later,
        "date_modified_gmt": later,
        "refunds": [{"id": 4_100_900, "reason": "", "total": "-10.00"}],
    }
    assert deliver(runtime, nordlicht.deliver("order.updated", refunded)).status == 202

    # Then a person decides: a payment_mismatch opens, owned per Nordlicht's rules
    exception = open_exception_of(runtime, order_id)
    assert (exception["type"], exception["owner"]) == ("payment_mismatch", "client-success")
    assert "without saying which lines" in exception["detail"]
    assert view(runtime, order_id)["payment"] == "partially_refunded"


def test_a_bigcommerce_partial_refund_opens_a_payment_mismatch(
    runtime: EmbeddedRuntime, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given Kite & Kin's paid BigCommerce order waiting for its pick, read from the store's API
    fake = runtime.storefronts
    assert fake is not None
    store = BigCommerceStore(
        "kite-and-kin", KITE_HASH, runtime.secret("shipshape/kite-and-kin/bigcommerce-webhook")
    )
    bundle = store.order(
        320, lines=[KITE], person=JANE, address=LONDON, created_at=clock.now(),
        modified_at=clock.now(), status_id=11, payment_status="captured",
    )  # fmt: skip
    fake.bigcommerce(KITE_HASH).put_order(bundle)
    order_id = deliver(runtime, store.deliver("store/order/created", bundle)).json()["order_id"]
    assert runtime.wait_for(lambda: warehouse.order(order_id)["status"] == "AWAITING_PICK")

    # When the merchant refunds part of it: Partially Refunded (14), the amount refunded, and
    # no word of which lines
    clock.advance(timedelta(minutes=5))
    refunded = store.order(
        320, lines=[KITE], person=JANE, address=LONDON, created_at=clock.now(),
        modified_at=clock.now(), status_id=14, payment_status="partially refunded",
    )  # fmt: skip
    refunded["order"]["refunded_amount"] = "10.0000"
    fake.bigcommerce(KITE_HASH).put_order(refunded)
    answer = deliver(runtime, store.deliver("store/order/statusUpdated", refunded))

    # Then a person decides: a payment_mismatch opens, owned per Kite & Kin's rules
    assert answer.status == 202, answer.body
    exception = open_exception_of(runtime, order_id)
    assert (exception["type"], exception["owner"]) == ("payment_mismatch", "client-success")
    assert "without saying which lines" in exception["detail"]
    order = view(runtime, order_id)
    assert (order["payment"], order["lines"][0]["quantity"]) == ("partially_refunded", 1)
