"""Two versions of an order stamped in the same instant are ordered by what they say.

Shopify sends ``orders/create`` and ``orders/paid`` within a second of each other for an order
paid at checkout, and both carry the same ``updated_at`` (it has a resolution of one second).
WooCommerce's ``date_modified_gmt`` has the same resolution. Ordered by time alone, the paid
version is a "duplicate" of the pending one and the order never starts; ordered by what it
says, it starts. A redelivery of the same event is still one."""

from __future__ import annotations

from datetime import timedelta

from shipshape_local.runtime import EmbeddedRuntime, ManualClock
from shipshape_local.storefronts import ShopifyStore, WooCommerceStore
from shipshape_local.warehouse import WarehouseSimulator
from tests.builders import BERLIN, JANE, LAMP, paid_shopify_order
from tests.integration.stack import LEAD, audit_actions, deliver


def test_a_paid_version_stamped_with_the_pending_one_starts_fulfilment_and_ships(
    runtime: EmbeddedRuntime,
    acme: ShopifyStore,
    clock: ManualClock,
    warehouse: WarehouseSimulator,
) -> None:
    # Given an order's orders/create (pending) and orders/paid, both stamped 10:00:00
    pending = paid_shopify_order(acme, clock, financial_status="pending")
    paid = {**pending, "financial_status": "paid"}
    assert paid["updated_at"] == pending["updated_at"]

    # When both are delivered, in that order
    created = deliver(runtime, acme.deliver("orders/create", pending))
    updated = deliver(runtime, acme.deliver("orders/paid", paid))
    order_id = created.json()["order_id"]
    final = warehouse.run([order_id])

    # Then the first was recorded waiting for payment, the second started fulfilment, and the
    # order shipped
    assert (created.status, created.json()["outcome"], created.json()["status"]) == (
        202, "created", "RECEIVED",
    )  # fmt: skip
    assert (updated.status, updated.json()["outcome"], updated.json()["status"]) == (
        202, "updated", "ACCEPTED",
    )  # fmt: skip
    assert final == {order_id: "SHIPPED"}
    assert audit_actions(runtime, order_id)[:2] == ["order_received", "fulfilment_requested"]


def test_the_same_paid_version_delivered_twice_is_one_and_a_late_pending_one_is_stale(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock
) -> None:
    # Given an order's orders/paid, recorded
    paid = paid_shopify_order(acme, clock)
    first = deliver(runtime, acme.deliver("orders/paid", paid))
    order_id = first.json()["order_id"]

    # When the same event is delivered again, and then the orders/create stamped in the same
    # second (pending) arrives late
    again = deliver(runtime, acme.deliver("orders/paid", paid))
    late = deliver(runtime, acme.deliver("orders/create", {**paid, "financial_status": "pending"}))

    # Then the redelivery is a duplicate and the late pending version is stale: one order,
    # one workflow, and the storefront wrote nothing after the first (the workflow goes on)
    assert (again.status, again.json()["outcome"]) == (200, "duplicate")
    assert (late.status, late.json()["outcome"]) == (200, "stale")
    assert "stamped with the recorded one but says less" in late.json()["detail"]
    assert again.json()["order_id"] == late.json()["order_id"] == order_id
    trail = runtime.http("GET", f"/orders/{order_id}/audit", headers=LEAD).json()["events"]
    assert [e["action"] for e in trail if e["actor"]["kind"] == "storefront"] == ["order_received"]
    assert len(runtime.executions()) == 1


def test_a_woocommerce_order_saved_pending_then_processing_in_one_second_starts(
    runtime: EmbeddedRuntime, nordlicht: WooCommerceStore, clock: ManualClock
) -> None:
    # Given a WooCommerce order saved pending and then processing within the same second
    now = clock.now()
    fields = {
        "lines": [LAMP], "person": JANE, "address": BERLIN,
        "created_at": now - timedelta(minutes=1), "modified_at": now,
    }  # fmt: skip
    pending = nordlicht.order(4712, status="pending", **fields)
    processing = nordlicht.order(4712, status="processing", **fields)

    # When both arrive
    created = deliver(runtime, nordlicht.deliver("order.created", pending))
    updated = deliver(runtime, nordlicht.deliver("order.updated", processing))

    # Then the processing version started fulfilment
    assert (created.json()["outcome"], created.json()["status"]) == ("created", "RECEIVED")
    assert (updated.status, updated.json()["outcome"], updated.json()["status"]) == (
        202, "updated", "ACCEPTED",
    )  # fmt: skip
    assert len(runtime.executions()) == 1
