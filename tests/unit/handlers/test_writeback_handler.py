"""The write-back function's handler (order-shipped events through SQS) on in-memory fakes:
the SQS batch in, the batch response and what the storefront and the order hold out."""

from __future__ import annotations

import json

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from shipshape.models import (
    Actor,
    AuditEvent,
    Label,
    Order,
    OrderLine,
    OrderStatus,
    PaymentState,
    Platform,
    canonical_order_id,
)
from tests.builders import SHOP, lambda_event
from tests.helpers import load_event
from tests.unit.handlers.support import Fakes, Invoke

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")
STOREFRONT_ID = "5600001"
ORDER_ID = canonical_order_id("acme-outdoors", Platform.SHOPIFY, SHOP, STOREFRONT_ID)


def shipped(fakes: Fakes) -> Order:
    """Acme's order, shipped with a label, as the workflow leaves it."""
    now = fakes.clock.now()
    order = Order(
        order_id=ORDER_ID, client_id="acme-outdoors", platform=Platform.SHOPIFY, store=SHOP,
        storefront_order_id=STOREFRONT_ID, order_number="#1001", version=1,
        storefront_updated_at=now, received_at=now, payment=PaymentState.PAID,
        lines=(OrderLine(line_id="14582934167668", sku="TENT-2P-GRN", quantity=1),),
        status=OrderStatus.SHIPPED, owner="logistics",
        status_timestamps={OrderStatus.SHIPPED: now}, rules_version="1", audit_seq=1,
        label=Label(carrier="UPS", service="Ground", tracking_number="1ZSS0000000000001"),
    )  # fmt: skip
    fakes.repo.create(
        order,
        AuditEvent(
            order_id=ORDER_ID, seq=1, at=now, action="shipped",
            actor=Actor(kind="workflow", id="fulfillment"), to_status=OrderStatus.SHIPPED,
            owner="logistics",
            detail={"carrier": "UPS", "service": "Ground", "tracking_number": "1ZSS0000000000001"},
        ),
    )  # fmt: skip
    return order


def order_shipped_message() -> dict[str, object]:
    """The SQS batch of one order-shipped event, as the sample in events/, for ORDER_ID."""
    event = lambda_event("writeback_order_shipped")
    [record] = event["Records"]
    body = json.loads(record["body"])
    body["detail"].update(order_id=ORDER_ID, client_id="acme-outdoors")
    record["body"] = json.dumps(body)
    return event


def test_a_shipped_order_is_confirmed_to_its_storefront_once(invoke: Invoke, fakes: Fakes) -> None:
    # Given a shipped order its Shopify store holds
    shipped(fakes)
    fakes.storefronts.put_order(
        "shopify", SHOP, STOREFRONT_ID, fakes.clock.now(), load_event("shopify/orders_paid.json")
    )

    # When its order-shipped message is processed, and then delivered again
    first = invoke("writeback", order_shipped_message())
    again = invoke("writeback", order_shipped_message())

    # Then no message failed, the store holds one fulfillment with the tracking number, and
    # the order records what the store holds
    assert first == again == {"batchItemFailures": []}
    [notice] = fakes.storefronts.fulfillments.values()
    assert (notice.storefront_order_id, notice.tracking_number) == (
        STOREFRONT_ID, "1ZSS0000000000001"
    )  # fmt: skip
    order = fakes.repo.get(ORDER_ID)
    assert order is not None and order.storefront_fulfillment == f"fulfillment-{STOREFRONT_ID}"


def test_a_storefront_refusal_is_recorded_on_the_order_and_not_retried(
    invoke: Invoke, fakes: Fakes
) -> None:
    # Given a shipped order its store does not know (a refusal retrying will not fix)
    shipped(fakes)

    # When its order-shipped message is processed
    response = invoke("writeback", order_shipped_message())

    # Then the message is not handed back for a retry, and the refusal is on the audit trail
    assert response == {"batchItemFailures": []}
    assert [e.action for e in fakes.repo.audit_trail(ORDER_ID)] == [
        "shipped",
        "storefront_write_back_refused",
    ]
    assert fakes.storefronts.fulfillments == {}


def test_a_message_that_is_not_an_order_event_is_handed_back(invoke: Invoke, fakes: Fakes) -> None:
    # Given a message on the queue that carries no order event
    event = lambda_event("writeback_order_shipped")
    event["Records"][0]["body"] = "not an order event"

    # When it is processed
    # Then the batch fails, so the message comes back (after the maximum receives it rests in
    # the dead-letter queue, where its alarm fires)
    with pytest.raises(BatchProcessingError, match="All records failed processing"):
        invoke("writeback", event)
