"""Webhook authentication through the front door of the embedded stack: fail-closed on every
platform, stale generic signatures refused, a Shopify redelivery a no-op, and a stock
delivery counted once however often it is processed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shipshape_local.runtime import EmbeddedRuntime, ManualClock
from shipshape_local.storefronts import Delivery, GenericStore, ShopifyStore, WooCommerceStore
from tests.builders import JANE as PERSON
from tests.builders import KITE, LAMP, LONDON, TENT, paid_shopify_order
from tests.builders import PORTLAND as ADDRESS
from tests.integration.stack import audit_actions, deliver, table_items

SIGNATURE_HEADERS = ("X-Shopify-Hmac-Sha256", "X-WC-Webhook-Signature", "Shipshape-Signature")


def _deliveries(
    acme: ShopifyStore, nordlicht: WooCommerceStore, kite: GenericStore, clock: ManualClock
) -> dict[str, Delivery]:
    now = clock.now()
    woo = nordlicht.order(
        41_001, lines=[LAMP], person=PERSON, address=ADDRESS, created_at=now, modified_at=now,
        status="processing",
    )  # fmt: skip
    generic = kite.order(
        "KK-90001", version=1, lines=[KITE], person=PERSON, address=LONDON, updated_at=now,
        payment_status="paid",
    )  # fmt: skip
    return {
        "shopify": acme.deliver("orders/paid", paid_shopify_order(acme, clock, lines=[TENT])),
        "woocommerce": nordlicht.deliver("order.updated", woo),
        "generic": kite.deliver("order.upsert", generic, signed_at=now),
    }


@pytest.mark.parametrize("platform", ["shopify", "woocommerce", "generic"])
def test_every_platform_fails_closed_without_its_signature(
    runtime: EmbeddedRuntime,
    acme: ShopifyStore,
    nordlicht: WooCommerceStore,
    kite: GenericStore,
    clock: ManualClock,
    platform: str,
) -> None:
    # Given a correctly built delivery whose signature header is removed
    delivery = _deliveries(acme, nordlicht, kite, clock)[platform]
    header = next(h for h in SIGNATURE_HEADERS if h in delivery.headers)
    headers = {k: v for k, v in delivery.headers.items() if k != header}
    writes = runtime.writes.count

    # When it arrives
    answer = runtime.http("POST", delivery.path, headers=headers, body=delivery.body)

    # Then it is a 401 naming the missing header, and nothing at all was written
    assert answer.status == 401, answer.body
    assert answer.json()["error"] == "SignatureInvalid"
    assert header.lower() in answer.json()["message"].lower()
    assert runtime.writes.count == writes
    assert table_items(runtime) == []


def test_a_generic_signature_older_than_the_tolerance_is_refused(
    runtime: EmbeddedRuntime, kite: GenericStore, clock: ManualClock
) -> None:
    # Given a generic delivery signed ten minutes before it arrives (tolerance: five)
    now = clock.now()
    order = kite.order(
        "KK-90002", version=1, lines=[KITE], person=PERSON, address=LONDON, updated_at=now,
        payment_status="paid",
    )  # fmt: skip
    stale = kite.deliver("order.upsert", order, signed_at=now - timedelta(minutes=10))
    fresh = kite.deliver("order.upsert", order, signed_at=now)

    # When the stale one arrives, and then the same body freshly signed
    refused = deliver(runtime, stale)
    nothing_written = table_items(runtime) == []
    accepted = deliver(runtime, fresh)

    # Then the stale one is refused for its age (a replay), the fresh one accepted
    assert refused.status == 401
    assert "tolerance" in refused.json()["message"]
    assert nothing_written
    assert accepted.status == 202


def test_a_shopify_redelivery_of_the_same_event_is_a_no_op(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock
) -> None:
    # Given a paid order delivered once and recorded
    delivery = acme.deliver("orders/paid", paid_shopify_order(acme, clock))
    first = deliver(runtime, delivery)
    order_id = first.json()["order_id"]
    assert runtime.settle()
    writes, trail = runtime.writes.count, audit_actions(runtime, order_id)

    # When Shopify redelivers the same event (same X-Shopify-Event-Id and body)
    again = deliver(runtime, delivery)

    # Then it is acknowledged as a duplicate, writes nothing and starts nothing
    assert (first.status, again.status) == (202, 200)
    assert (again.json()["order_id"], again.json()["outcome"]) == (order_id, "duplicate")
    assert runtime.writes.count == writes
    assert audit_actions(runtime, order_id) == trail
    assert [e["name"] for e in runtime.executions()] == [order_id]


def test_a_stock_receipt_processed_twice_adds_its_units_once(runtime: EmbeddedRuntime) -> None:
    # Given a SKU's stock, and a delivery of 25 units recorded under its event id
    import shipshape.bootstrap

    inventory = shipshape.bootstrap.container().inventory
    before = sum(lot.available for lot in inventory.stock_of("acme-outdoors", "TENT-2P-GRN"))

    # When the same receipt is applied twice (its first answer was lost) and another once
    for receipt in ("rcv-1", "rcv-1", "rcv-2"):
        inventory.receive_stock(
            "acme-outdoors", "TENT-2P-GRN", "pdx-1", "-", 25, "A-01-1", None, receipt=receipt
        )

    # Then the repeat added nothing: 50 units more, not 75
    after = sum(lot.available for lot in inventory.stock_of("acme-outdoors", "TENT-2P-GRN"))
    assert after - before == 50
