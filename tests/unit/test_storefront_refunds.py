"""Partial payments and partial refunds as each platform states them: Shopify says which lines
a refund was for (``refunds[].refund_line_items[]``); WooCommerce and BigCommerce orders say
only that money went back, so their refunded lines are unknown (None)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from shipshape.models import PaymentState, RefundedLine
from shipshape.storefronts.bigcommerce import bigcommerce_adapter
from shipshape.storefronts.shopify import shopify_adapter
from shipshape.storefronts.woocommerce import woocommerce_adapter
from tests.builders import BIGCOMMERCE_STORE, SHOP
from tests.helpers import load_event

REAL = Path(__file__).parents[1] / "events" / "real"


def test_shopify_refund_line_items_become_refunded_units_per_line() -> None:
    # Given Shopify's published order (SDK fixture) with one refund of two lines, one unit
    # each, and a refund transaction of 209.00
    body = (REAL / "shopify-authorized.json").read_bytes()

    # When it is normalized
    order = shopify_adapter.normalize_resource(body, SHOP)

    # Then the refunded units are stated per line, the lines stay as ordered, and the money
    # refunded is the successful refund transactions'
    assert order.refunded_lines == (
        RefundedLine(line_id="703073504", quantity=1),
        RefundedLine(line_id="466157049", quantity=1),
    )
    assert [line.quantity for line in order.lines] == [1, 1, 1]
    assert order.refunded_total == Decimal("209.00")


def test_shopifys_published_partially_refunded_order_is_ready_with_its_refunded_units() -> None:
    # Given Shopify's published partially refunded order (SDK fixture): three lines, one
    # refund giving back one unit each of the black and the green line
    body = (REAL / "shopify-partially-refunded.json").read_bytes()

    # When it is normalized
    order = shopify_adapter.normalize_resource(body, SHOP)

    # Then it is partly refunded and ready: what is left ships; the refunded units per line
    # are stated, the lines as ordered
    assert (order.payment, order.ready_to_fulfil) == (PaymentState.PARTIALLY_REFUNDED, True)
    assert order.refunded_lines == (
        RefundedLine(line_id="703073504", quantity=1),
        RefundedLine(line_id="466157049", quantity=1),
    )
    assert [(line.sku, line.quantity) for line in order.lines] == [
        ("IPOD2008GREEN", 1), ("IPOD2008RED", 1), ("IPOD2008BLACK", 1),
    ]  # fmt: skip
    assert order.refunded_total == Decimal("209.00")


def test_shopify_adds_up_the_units_of_a_line_over_several_refunds() -> None:
    # Given an order refunded twice for the same line, and once with no line at all
    payload = json.loads((REAL / "shopify-authorized.json").read_bytes())
    line = payload["line_items"][1]["id"]
    payload["financial_status"] = "partially_refunded"
    payload["refunds"] = [
        {"id": 1, "refund_line_items": [{"line_item_id": line, "quantity": 1}]},
        {"id": 2, "refund_line_items": [{"line_item_id": line, "quantity": 2}]},
        {"id": 3, "refund_line_items": [], "transactions": [
            {"kind": "refund", "status": "failure", "amount": "5.00"}]},
    ]  # fmt: skip

    # When it is normalized
    order = shopify_adapter.normalize_resource(json.dumps(payload).encode(), SHOP)

    # Then the line's units add up; a failed refund moved no money; it is partly refunded
    # and still ready to fulfil what is left
    assert order.refunded_lines == (RefundedLine(line_id=str(line), quantity=3),)
    assert order.refunded_total == Decimal("0")
    assert order.payment is PaymentState.PARTIALLY_REFUNDED
    assert order.ready_to_fulfil is True


def test_shopify_partially_paid_is_its_own_payment_state_and_not_ready() -> None:
    # Given Shopify's published order paid in part (an authorization of 50.00 of 199.00)
    body = (REAL / "shopify-partially-paid-with-addresses.json").read_bytes()

    # When it is normalized
    order = shopify_adapter.normalize_resource(body, SHOP)

    # Then it is partly paid, not ready, with nothing refunded
    assert (order.payment, order.ready_to_fulfil) == (PaymentState.PARTIALLY_PAID, False)
    assert order.refunded_lines == ()


def test_a_woocommerce_order_with_refunds_is_partly_refunded_with_its_lines_unknown() -> None:
    # Given WooCommerce's published order (REST API docs) listing two refunds, -10.00 and
    # -9.00, with no lines
    body = (REAL / "woocommerce-order-completed-brazil.json").read_bytes()

    # When it is normalized
    order = woocommerce_adapter.normalize_resource(body, "https://example.com/")

    # Then it is partly refunded by 19.00, and which lines is not known
    assert order.payment is PaymentState.PARTIALLY_REFUNDED
    assert order.refunded_lines is None
    assert order.refunded_total == Decimal("19.00")


def test_a_woocommerce_order_without_refunds_states_no_refunded_line() -> None:
    # Given WooCommerce's published processing order with an empty refunds list
    body = (REAL / "woocommerce-order-created-processing.json").read_bytes()

    # When it is normalized
    order = woocommerce_adapter.normalize_resource(body, "https://example.com/")

    # Then it is paid, nothing refunded
    assert (order.payment, order.refunded_lines, order.refunded_total) == (
        PaymentState.PAID, (), Decimal("0"),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("status_id", "payment_status", "refunded_amount", "payment", "lines"),
    [
        (14, "partially refunded", "10.0000", PaymentState.PARTIALLY_REFUNDED, None),
        (14, "", "10.0000", PaymentState.PARTIALLY_REFUNDED, None),
        (11, "captured", "0.0000", PaymentState.PAID, ()),
        (4, "refunded", "1008.7400", PaymentState.REFUNDED, ()),
    ],
)
def test_bigcommerce_partially_refunded_states_no_lines(
    status_id: int,
    payment_status: str,
    refunded_amount: str,
    payment: PaymentState,
    lines: tuple[RefundedLine, ...] | None,
) -> None:
    # Given a BigCommerce order read from its v2 API with this status and refunded amount
    bundle = json.loads(load_event("bigcommerce/order_awaiting_fulfillment.json"))
    bundle["order"].update(
        status_id=status_id, payment_status=payment_status, refunded_amount=refunded_amount
    )

    # When it is normalized
    order = bigcommerce_adapter.normalize_resource(json.dumps(bundle).encode(), BIGCOMMERCE_STORE)

    # Then Partially Refunded (14) is partly refunded with its lines unknown, and the amount
    # is what the order says
    assert order.payment is payment
    assert order.refunded_lines == lines
    assert order.refunded_total == Decimal(refunded_amount)
