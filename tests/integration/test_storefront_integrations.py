"""Integrations out and back, end to end on the embedded runtime: the real handlers, the real
ASL, the stream publisher and the queues delivered as Lambda's pollers do, and the storefronts'
APIs served by the fake storefront server over real sockets (its faults injected on purpose).

- a shipped order's storefront learns it exactly once, even when the answer is lost;
- a 429 with Retry-After is waited out;
- a webhook that never arrived is repaired by the next reconciliation pass, lag measured;
- a BigCommerce webhook (an order id only) becomes a shipped order.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from shipshape.storefronts.api import READ_TIMEOUT_SECONDS, RETRIES
from shipshape_local.fakestore import Fault
from shipshape_local.runtime import EmbeddedRuntime, ManualClock
from shipshape_local.storefronts import BigCommerceStore, ShopifyStore, WooCommerceStore
from shipshape_local.warehouse import WarehouseSimulator
from tests.builders import BERLIN, JANE, KITE, LAMP, LONDON, paid_shopify_order
from tests.integration.stack import LEAD, audit_actions, deliver

ACME_SHOP = "acme-outdoors.myshopify.com"
NORDLICHT_SITE = "https://nordlicht-shop.de/"
KITE_HASH = "q8kz3m1v4w"
LOOK = "ShipshapeFulfillmentState"  # the write-back's look before it writes


def _trail(runtime: EmbeddedRuntime, order_id: str) -> list[dict[str, Any]]:
    answer = runtime.http("GET", f"/orders/{order_id}/audit", headers=LEAD)
    assert answer.status == 200, answer.body
    return list(answer.json()["events"])


def _ship_shopify_order(
    runtime: EmbeddedRuntime,
    acme: ShopifyStore,
    clock: ManualClock,
    warehouse: WarehouseSimulator,
    storefront_id: int = 5_600_001,
) -> tuple[str, dict[str, Any]]:
    """A paid Shopify order the shop knows, delivered by webhook and shipped."""
    assert runtime.storefronts is not None
    resource = paid_shopify_order(acme, clock, order_id=storefront_id)
    delivery = acme.deliver("orders/paid", resource)
    runtime.storefronts.shopify(ACME_SHOP).put_order(delivery)
    order_id = str(deliver(runtime, delivery).json()["order_id"])
    assert warehouse.run([order_id]) == {order_id: "SHIPPED"}
    return order_id, resource


def test_a_shipped_order_gets_one_shopify_fulfillment_even_when_the_answer_is_lost(
    runtime: EmbeddedRuntime,
    acme: ShopifyStore,
    clock: ManualClock,
    warehouse: WarehouseSimulator,
) -> None:
    fake = runtime.storefronts
    assert fake is not None

    # Given a shipped order, and a shop that creates the fulfillment but answers only after
    # Shipshape stopped waiting (the transport's own read timeout, as in every function);
    # then the shop's API drops the connections of the look that follows (one read and the
    # transport's retries), so that invocation fails and the queue delivers the event again
    def drop_the_next_looks() -> None:
        fake.inject("shopify", ACME_SHOP, Fault.drop(), times=1 + RETRIES, body_contains=LOOK)

    fake.inject("shopify", ACME_SHOP, Fault.meanwhile(drop_the_next_looks), body_contains=LOOK)
    fake.inject(
        "shopify", ACME_SHOP, Fault.slow(READ_TIMEOUT_SECONDS + 1.5),
        body_contains="ShipshapeFulfillmentCreate",
    )  # fmt: skip
    order_id, resource = _ship_shopify_order(runtime, acme, clock, warehouse)

    # When the order-shipped event is delivered (and redelivered) to the write-back
    runtime.drain()

    # Then the shop holds exactly one fulfillment, with the label's carrier and tracking
    # number, for every line of the order
    order = runtime.http("GET", f"/orders/{order_id}", headers=LEAD).json()
    label = order["label"]
    fulfillments = fake.shopify(ACME_SHOP).fulfillments(resource["id"])
    assert len(fulfillments) == 1, fulfillments
    assert fulfillments[0]["tracking"]["number"] == label["tracking_number"]
    assert fulfillments[0]["tracking"]["company"] == label["carrier"]
    shipped = {str(li["line_item_id"]): li["quantity"] for li in fulfillments[0]["line_items"]}
    assert shipped == {str(item["id"]): item["quantity"] for item in resource["line_items"]}
    assert all(
        line["remaining"] == 0
        for fo in fake.shopify(ACME_SHOP).fulfillment_orders(resource["id"])
        for line in fo["line_items"]
    )
    # And the create was sent once, answered too late; the retry found it instead
    creates = fake.requests_to("shopify", ACME_SHOP, operation="fulfillmentCreate")
    assert len(creates) == 1 and not creates[0].answered
    # And the record keeps the shop's reference, with one audit event saying so
    confirmed = [e for e in _trail(runtime, order_id) if e["action"] == "storefront_confirmed"]
    assert len(confirmed) == 1
    assert confirmed[0]["detail"]["reference"] == fulfillments[0]["id"]
    assert confirmed[0]["detail"]["created"] is False  # found, not made, by the retry
    assert order["storefront_fulfillment"] == fulfillments[0]["id"]
    assert runtime.queue_messages("WriteBackDeadLetterQueue") == []

    # And an event delivered once more (at-least-once) changes nothing at the shop
    before = len(fake.requests)
    assert runtime.run_function(
        "WriteBackFunction",
        {"Records": [_sqs_record({"detail": {"order_id": order_id}})]},
    ) == {"batchItemFailures": []}
    assert len(fake.requests) == before
    assert len(fake.shopify(ACME_SHOP).fulfillments(resource["id"])) == 1


def test_a_429_with_retry_after_is_waited_out(
    runtime: EmbeddedRuntime,
    acme: ShopifyStore,
    clock: ManualClock,
    warehouse: WarehouseSimulator,
) -> None:
    fake = runtime.storefronts
    assert fake is not None
    # Given a shipped order and a shop that throttles the first request with Retry-After: 1
    order_id, resource = _ship_shopify_order(runtime, acme, clock, warehouse, 5_600_002)
    fake.clear_requests()
    fake.inject("shopify", ACME_SHOP, Fault.throttle(retry_after=1))

    # When the write-back runs
    runtime.drain()

    # Then the request after the 429 came no sooner than the shop asked, and the order's
    # fulfillment exists once
    sent = fake.requests_to("shopify", ACME_SHOP)
    assert sent[0].status == 429
    assert sent[1].received_at - sent[0].answered_at >= 1.0
    assert all(r.status == 200 for r in sent[1:])
    assert len(fake.shopify(ACME_SHOP).fulfillments(resource["id"])) == 1
    assert "storefront_confirmed" in audit_actions(runtime, order_id)


def test_a_woocommerce_order_is_completed_with_one_tracking_note(
    runtime: EmbeddedRuntime,
    nordlicht: WooCommerceStore,
    clock: ManualClock,
    warehouse: WarehouseSimulator,
) -> None:
    fake = runtime.storefronts
    assert fake is not None
    # Given a paid WooCommerce order the shop knows, shipped
    delivery = nordlicht.deliver(
        "order.updated",
        nordlicht.order(
            8_001, lines=[LAMP], person=JANE, address=BERLIN, status="processing",
            created_at=clock.now(), modified_at=clock.now(),
        ),
    )  # fmt: skip
    fake.woocommerce(NORDLICHT_SITE).put_order(delivery)
    order_id = str(deliver(runtime, delivery).json()["order_id"])
    assert warehouse.run([order_id]) == {order_id: "SHIPPED"}

    # When the write-back runs, and the same event is delivered once more
    runtime.drain()
    runtime.run_function(
        "WriteBackFunction", {"Records": [_sqs_record({"detail": {"order_id": order_id}})]}
    )

    # Then the order is completed with one customer note naming the tracking number
    label = runtime.http("GET", f"/orders/{order_id}", headers=LEAD).json()["label"]
    shop = fake.woocommerce(NORDLICHT_SITE)
    assert shop.status(8_001) == "completed"
    notes = [n for n in shop.notes(8_001) if label["tracking_number"] in n["note"]]
    assert len(notes) == 1 and notes[0]["customer_note"] is True


def test_a_dropped_webhook_is_repaired_by_the_next_reconciliation_pass(
    runtime: EmbeddedRuntime,
    acme: ShopifyStore,
    clock: ManualClock,
    warehouse: WarehouseSimulator,
) -> None:
    fake = runtime.storefronts
    assert fake is not None
    # Given an order the shop changed before Shipshape went live for it, and the store's first
    # pass, which only sets its checkpoint
    fake.shopify(ACME_SHOP).put_order(paid_shopify_order(acme, clock, order_id=5_600_009))
    clock.advance(timedelta(minutes=3))  # longer ago than the passes' overlap
    first = runtime.run_function("ReconcilerFunction", {"source": "aws.scheduler"})
    acme_pass = next(s for s in first["stores"] if s["platform"] == "shopify")
    assert acme_pass["outcome"] == "started" and acme_pass["repaired"] == []

    # And then a paid order whose webhook never arrives (dropped on purpose)
    clock.advance(timedelta(minutes=1))
    resource = paid_shopify_order(acme, clock, order_id=5_600_010)
    fake.shopify(ACME_SHOP).put_order(resource)

    # When the schedule's next pass runs, one period (5 minutes) after the first
    clock.advance(timedelta(minutes=4))
    second = runtime.run_function("ReconcilerFunction", {"source": "aws.scheduler"})

    # Then the order is recorded through the ingest path, with how far behind it was
    acme_pass = next(s for s in second["stores"] if s["platform"] == "shopify")
    assert acme_pass["outcome"] == "reconciled"
    assert len(acme_pass["repaired"]) == 1  # not the order from before go-live
    order_id = acme_pass["repaired"][0]
    assert acme_pass["max_lag_seconds"] == 240.0  # paid 4 minutes before the pass found it
    received = _trail(runtime, order_id)[0]
    assert received["action"] == "order_received"
    assert received["detail"]["source"] == "reconciliation"
    assert received["detail"]["sync_lag_seconds"] == 240.0
    # And it goes on to fulfillment like any other order
    assert warehouse.run([order_id]) == {order_id: "SHIPPED"}
    # And the sync lag is in the client's metrics, which the Monday checklist reads
    metrics = runtime.http("GET", "/metrics?client=acme-outdoors&days=1", headers=LEAD).json()
    assert metrics["sync_lag_seconds"]["max"] == 240.0
    assert metrics["sync_lag_seconds"]["over_15_minutes"] == 0

    # And a third pass finds nothing more to repair: the order is a duplicate now
    clock.advance(timedelta(minutes=5))
    third = runtime.run_function("ReconcilerFunction", {"source": "aws.scheduler"})
    acme_pass = next(s for s in third["stores"] if s["platform"] == "shopify")
    assert acme_pass["repaired"] == [] and acme_pass["outcome"] == "reconciled"
    assert audit_actions(runtime, order_id).count("order_received") == 1


def test_reconciliation_of_an_unreachable_store_keeps_its_checkpoint(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock
) -> None:
    fake = runtime.storefronts
    assert fake is not None
    # Given an order made while the shop's API is down for a pass
    runtime.run_function("ReconcilerFunction", {"source": "aws.scheduler"})
    clock.advance(timedelta(minutes=2))
    fake.shopify(ACME_SHOP).put_order(paid_shopify_order(acme, clock, order_id=5_600_020))
    fake.inject("shopify", ACME_SHOP, Fault.server_error(503), times=20)
    clock.advance(timedelta(minutes=3))
    down = runtime.run_function("ReconcilerFunction", {"source": "aws.scheduler"})
    fake.clear_faults()

    # When the next pass runs with the shop back
    clock.advance(timedelta(minutes=5))
    back = runtime.run_function("ReconcilerFunction", {"source": "aws.scheduler"})

    # Then the failed pass is reported (the alarm counts it) and the next one repairs the order
    assert down["failed"] == 1
    assert next(s for s in down["stores"] if s["platform"] == "shopify")["outcome"] == "failed"
    repaired = next(s for s in back["stores"] if s["platform"] == "shopify")["repaired"]
    assert len(repaired) == 1


def test_a_bigcommerce_webhook_is_fetched_and_ships(
    runtime: EmbeddedRuntime, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    fake = runtime.storefronts
    assert fake is not None
    store = BigCommerceStore(
        "kite-and-kin", KITE_HASH, runtime.secret("shipshape/kite-and-kin/bigcommerce-webhook")
    )
    # Given a paid BigCommerce order awaiting fulfillment, in the store's API
    bundle = store.order(
        310, lines=[KITE], person=JANE, address=LONDON, created_at=clock.now(),
        modified_at=clock.now(), status_id=11, payment_status="captured",
    )  # fmt: skip
    fake.bigcommerce(KITE_HASH).put_order(bundle)

    # When its webhook (the order id only) arrives, and once more with a forged token
    answer = deliver(runtime, store.deliver("store/order/created", bundle))
    forged = store.deliver("store/order/created", bundle)
    forged.headers["X-Shipshape-Webhook-Token"] = "not-the-token"
    refused = deliver(runtime, forged)

    # Then the order is read from the API, recorded and fulfilled to shipped
    assert answer.status == 202, answer.body
    order_id = answer.json()["order_id"]
    assert refused.status == 401 and "X-Shipshape-Webhook-Token" in refused.json()["message"]
    assert warehouse.run([order_id]) == {order_id: "SHIPPED"}
    order = runtime.http("GET", f"/orders/{order_id}", headers=LEAD).json()
    assert (order["platform"], order["storefront_order_id"]) == ("bigcommerce", "310")
    assert [line["sku"] for line in order["lines"]] == [KITE.sku]
    reads = fake.requests_to("bigcommerce", KITE_HASH, method="GET")
    assert {r.path for r in reads} >= {"/v2/orders/310", "/v2/orders/310/products"}


def _sqs_record(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "messageId": "redelivered-1",
        "receiptHandle": "redelivered-1",
        "body": json.dumps(body),
        "attributes": {"ApproximateReceiveCount": "2"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:shipshape-WriteBackQueue",
        "awsRegion": "us-east-1",
    }
