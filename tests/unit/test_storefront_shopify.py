"""The Shopify adapter against real-shaped ``orders/*`` webhooks.

What every adapter shares (verification, the store a delivery claims, a paid order's canonical
form, the registry) is checked once for all four in test_storefront_contract.py.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from shipshape.errors import PayloadInvalid, SignatureInvalid, UnsupportedTopic
from shipshape.models import Customer, LineKind, OrderLine, OtherLine, PaymentState, Platform
from shipshape.storefronts.base import WebhookDelivery
from shipshape.storefronts.shopify import shopify_adapter
from tests.builders import JANE_AT_HOME, SHOP
from tests.builders import SHOPIFY_MUGS as MUGS
from tests.builders import SHOPIFY_TENT as TENT
from tests.helpers import load_event, sign_shopify, webhook_delivery

SECRET = b"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"
RECEIVED_AT = datetime(2026, 11, 20, 15, 15, 33, tzinfo=UTC)
EST = timezone(timedelta(hours=-5))


def shopify_delivery(
    body: bytes,
    topic: str = "orders/create",
    *,
    secret: bytes = SECRET,
    headers: Mapping[str, str | None] | None = None,
) -> WebhookDelivery:
    """A delivery with every header Shopify sends; ``headers`` overrides (None drops one)."""
    sent: dict[str, str | None] = {
        "Content-Type": "application/json",
        "X-Shopify-Hmac-Sha256": sign_shopify(body, secret),
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": SHOP,
        "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "X-Shopify-Event-Id": "98880550-7158-44d4-b7cd-2c97c8a091b5",
        "X-Shopify-Triggered-At": "2026-11-20T15:15:32.912841207Z",
        "X-Shopify-API-Version": "2025-10",
        **(headers or {}),
    }
    present = {name: value for name, value in sent.items() if value is not None}
    return webhook_delivery(present, body, RECEIVED_AT)


def edited(fixture: str, edit: Callable[[dict[str, Any]], None]) -> bytes:
    payload = json.loads(load_event(fixture))
    edit(payload)
    return json.dumps(payload).encode()


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp()) * 1000


# --- normalization of every fixture ---------------------------------------------------------


def test_pending_order_is_recorded_but_not_ready_to_fulfil() -> None:
    # Given an orders/create webhook for an order paid by a manual method, not yet captured
    delivery = shopify_delivery(load_event("shopify/orders_create_pending.json"), "orders/create")

    # When it is normalized
    order = shopify_adapter.normalize(delivery)

    # Then every canonical field comes from the payload, and nothing may be fulfilled yet
    assert order.platform is Platform.SHOPIFY
    assert order.store == SHOP
    assert order.business_key() == ("shopify", SHOP, "5934127349876")
    assert order.order_number == "#1001"
    assert order.storefront_updated_at == datetime(2026, 11, 20, 10, 15, 32, tzinfo=EST)
    assert order.version == epoch_ms(datetime(2026, 11, 20, 15, 15, 32, tzinfo=UTC))
    assert order.payment is PaymentState.PENDING
    assert order.ready_to_fulfil is False
    assert order.cancelled is False
    assert order.currency == "USD"
    assert order.total == Decimal("297.00")
    assert order.customer == Customer(
        name="Jane Doe", email="jane.doe@example.com", phone="+15035550142"
    )
    assert order.shipping_address == JANE_AT_HOME
    assert order.lines == (TENT, MUGS)


def test_paid_order_is_the_same_order_newer_than_the_pending_one() -> None:
    # Given the orders/create and the later orders/paid deliveries of one order (the paid
    # one's every field: test_storefront_contract.py)
    pending = shopify_adapter.normalize(
        shopify_delivery(load_event("shopify/orders_create_pending.json"), "orders/create")
    )
    delivery = shopify_delivery(load_event("shopify/orders_paid.json"), "orders/paid")

    # When the paid one is normalized
    paid = shopify_adapter.normalize(delivery)

    # Then it is the same order, a greater version
    assert paid.business_key() == pending.business_key()
    assert paid.version > pending.version


def test_updated_order_carries_the_edited_shipping_address() -> None:
    # Given an orders/updated delivery after the merchant added an apartment number
    paid = shopify_adapter.normalize(
        shopify_delivery(load_event("shopify/orders_paid.json"), "orders/paid")
    )
    delivery = shopify_delivery(load_event("shopify/orders_updated.json"), "orders/updated")

    # When it is normalized
    updated = shopify_adapter.normalize(delivery)

    # Then it is a newer version of the same paid order, with the new address line
    assert updated.business_key() == paid.business_key()
    assert updated.version > paid.version
    assert updated.payment is PaymentState.PAID
    assert updated.ready_to_fulfil is True
    assert updated.shipping_address == JANE_AT_HOME.model_copy(update={"line2": "Apt 3B"})


def test_cancelled_order_is_cancelled_refunded_and_not_ready() -> None:
    # Given an orders/cancelled delivery for the order, refunded in full
    updated = shopify_adapter.normalize(
        shopify_delivery(load_event("shopify/orders_updated.json"), "orders/updated")
    )
    delivery = shopify_delivery(load_event("shopify/orders_cancelled.json"), "orders/cancelled")

    # When it is normalized
    cancelled = shopify_adapter.normalize(delivery)

    # Then it is the newest version, cancelled, refunded, and nothing may be fulfilled
    assert cancelled.business_key() == updated.business_key()
    assert cancelled.version == epoch_ms(datetime(2026, 11, 20, 18, 20, 11, tzinfo=UTC))
    assert cancelled.version > updated.version
    assert cancelled.cancelled is True
    assert cancelled.payment is PaymentState.REFUNDED
    assert cancelled.ready_to_fulfil is False


def test_digital_lines_are_left_out_of_the_pick() -> None:
    # Given a paid order with four mugs and an e-gift card that has no SKU
    delivery = shopify_delivery(load_event("shopify/order_with_digital_line.json"), "orders/paid")

    # When it is normalized
    order = shopify_adapter.normalize(delivery)

    # Then only the mugs are lines to fulfil, and the order still totals what was paid
    assert order.storefront_order_id == "5934131544180"
    assert order.order_number == "#1002"
    assert order.lines == (
        OrderLine(
            line_id="14582941343860",
            sku="MUG-ENAMEL-12",
            title="Enamel Camp Mug 12 oz - Slate",
            quantity=4,
            unit_price=Decimal("18.00"),
        ),
    )
    assert order.total == Decimal("134.00")
    assert order.ready_to_fulfil is True


# --- mapping rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("financial_status", "payment", "ready"),
    [
        ("pending", PaymentState.PENDING, False),
        ("authorized", PaymentState.AUTHORIZED, False),
        ("partially_paid", PaymentState.PARTIALLY_PAID, False),
        ("paid", PaymentState.PAID, True),
        # paid, and part given back: what is left ships (the refunded units leave the order)
        ("partially_refunded", PaymentState.PARTIALLY_REFUNDED, True),
        ("refunded", PaymentState.REFUNDED, False),
        ("voided", PaymentState.VOIDED, False),
        ("expired", PaymentState.VOIDED, False),
    ],
)
def test_financial_status_decides_payment_and_readiness(
    financial_status: str, payment: PaymentState, ready: bool
) -> None:
    # Given an orders/updated delivery with this financial status
    body = edited("shopify/orders_paid.json", lambda o: o.update(financial_status=financial_status))

    # When it is normalized
    order = shopify_adapter.normalize(shopify_delivery(body, "orders/updated"))

    # Then payment and readiness follow the status
    assert order.payment is payment
    assert order.ready_to_fulfil is ready


def test_cancelled_topic_alone_marks_the_order_cancelled() -> None:
    # Given an orders/cancelled delivery whose body has no cancelled_at yet
    body = edited("shopify/orders_paid.json", lambda o: o.update(cancelled_at=None))

    # When it is normalized
    order = shopify_adapter.normalize(shopify_delivery(body, "orders/cancelled"))

    # Then the topic is enough: the paid order is cancelled and not ready
    assert order.cancelled is True
    assert order.ready_to_fulfil is False


def test_cancelled_at_marks_the_order_cancelled_under_any_topic() -> None:
    # Given an orders/updated delivery of a paid order that carries a cancellation time
    body = edited(
        "shopify/orders_paid.json", lambda o: o.update(cancelled_at="2026-11-20T12:00:00-05:00")
    )

    # When it is normalized
    order = shopify_adapter.normalize(shopify_delivery(body, "orders/updated"))

    # Then it is cancelled, though paid
    assert order.cancelled is True
    assert order.payment is PaymentState.PAID
    assert order.ready_to_fulfil is False


def test_customer_name_falls_back_to_the_shipping_address() -> None:
    # Given an order whose customer object is absent (no protected customer data access)
    body = edited("shopify/orders_paid.json", lambda o: o.update(customer=None))

    # When it is normalized
    order = shopify_adapter.normalize(shopify_delivery(body, "orders/paid"))

    # Then the name comes from the shipping address and the email from the order
    assert order.customer == Customer(name="Jane Doe", email="jane.doe@example.com", phone=None)


def test_order_without_shipping_address_still_normalizes() -> None:
    # Given a local-pickup order: lines that need handling but no shipping address
    body = edited("shopify/orders_paid.json", lambda o: o.update(shipping_address=None))

    # When it is normalized
    order = shopify_adapter.normalize(shopify_delivery(body, "orders/paid"))

    # Then the order carries no address, and the workflow's address check decides
    assert order.shipping_address is None
    assert order.lines == (TENT, MUGS)


@pytest.mark.parametrize("sku", [None, "", "   "])
def test_a_shippable_line_without_sku_is_kept_as_a_line_to_map(sku: str | None) -> None:
    # Given a paid order whose second (shippable) line has no SKU (a custom item)
    body = edited("shopify/orders_paid.json", lambda o: o["line_items"][1].update(sku=sku))

    # When it is normalized
    order = shopify_adapter.normalize(shopify_delivery(body, "orders/paid"))

    # Then the order is accepted: the tent is a line to pick, the mug a line with no SKU
    # (the workflow opens a catalog_mismatch for it), with what a person needs to map it
    assert order.lines == (TENT,)
    assert order.other_lines == (
        OtherLine(
            line_id="14582934200436", kind=LineKind.NO_SKU, sku=None,
            title="Enamel Camp Mug 12 oz - Slate", quantity=2, unit_price=Decimal("18.00"),
        ),
    )  # fmt: skip


def test_an_order_with_nothing_to_ship_keeps_its_lines_as_not_shipped() -> None:
    # Given an order whose every line is digital
    def all_digital(order: dict[str, Any]) -> None:
        for item in order["line_items"]:
            item["requires_shipping"] = False

    body = edited("shopify/orders_paid.json", all_digital)

    # When it is normalized
    order = shopify_adapter.normalize(shopify_delivery(body, "orders/paid"))

    # Then no line is to pick, and both are kept, with their SKUs, as lines not shipped
    assert order.lines == ()
    assert [(ln.kind, ln.sku, ln.quantity) for ln in order.other_lines] == [
        (LineKind.NOT_SHIPPED, "TENT-2P-GRN", 1),
        (LineKind.NOT_SHIPPED, "MUG-ENAMEL-12", 2),
    ]


def test_sku_longer_than_shipshape_keeps_is_named() -> None:
    # Given a line whose SKU is longer than the 64 characters a canonical SKU may have
    body = edited(
        "shopify/orders_paid.json", lambda o: o["line_items"][0].update(sku="TENT-" + "X" * 60)
    )

    # When it is normalized
    with pytest.raises(PayloadInvalid) as caught:
        shopify_adapter.normalize(shopify_delivery(body, "orders/paid"))

    # Then the message names the Shopify field
    assert str(caught.value).startswith("line_items.0.sku: String should have at most 64")


# --- malformed payloads ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b'{"id": 5934127349876,', b"\xff\xfe\x00", b"[]", b"null"],
    ids=["empty", "text", "truncated", "binary", "array", "null"],
)
def test_malformed_body_is_payload_invalid(body: bytes) -> None:
    # Given a delivery whose body is not a JSON order object
    delivery = shopify_delivery(body, "orders/create")

    # When it is normalized
    with pytest.raises(PayloadInvalid) as caught:
        shopify_adapter.normalize(delivery)

    # Then it is a client error about the body, not a crash
    assert str(caught.value).startswith("body: ")


@pytest.mark.parametrize(
    ("field", "named"),
    [
        (("updated_at",), "updated_at: Field required"),
        (("financial_status",), "financial_status: Field required"),
        (("line_items",), "line_items: Field required"),
        (("line_items", 0, "quantity"), "line_items.0.quantity: Field required"),
        (("shipping_address", "country_code"), "shipping_address.country_code: Field required"),
    ],
)
def test_missing_required_field_is_named(field: tuple[str | int, ...], named: str) -> None:
    # Given a payload without one field Shipshape reads
    def drop(order: dict[str, Any]) -> None:
        parent: Any = order
        for key in field[:-1]:
            parent = parent[key]
        del parent[field[-1]]

    body = edited("shopify/orders_paid.json", drop)

    # When it is normalized
    with pytest.raises(PayloadInvalid) as caught:
        shopify_adapter.normalize(shopify_delivery(body, "orders/paid"))

    # Then the message names that field
    assert str(caught.value).startswith(named)


def test_unknown_financial_status_is_named() -> None:
    # Given a payload with a financial status Shopify does not document
    body = edited("shopify/orders_paid.json", lambda o: o.update(financial_status="settled"))

    # When it is normalized
    with pytest.raises(PayloadInvalid) as caught:
        shopify_adapter.normalize(shopify_delivery(body, "orders/paid"))

    # Then the message names the field
    assert str(caught.value).startswith("financial_status: Input should be ")


def test_naive_updated_at_is_rejected() -> None:
    # Given a timestamp without an offset, which cannot order versions reliably
    body = edited("shopify/orders_paid.json", lambda o: o.update(updated_at="2026-11-20T10:42:07"))

    # When it is normalized
    with pytest.raises(PayloadInvalid) as caught:
        shopify_adapter.normalize(shopify_delivery(body, "orders/paid"))

    # Then the message names the field
    assert str(caught.value).startswith("updated_at: ")


# --- topics and headers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "topic", ["orders/fulfilled", "orders/delete", "orders/edited", "products/update"]
)
def test_unsupported_topic_is_named(topic: str) -> None:
    # Given a delivery for a topic Shipshape does not subscribe to
    delivery = shopify_delivery(load_event("shopify/orders_paid.json"), topic)

    # When it is normalized
    with pytest.raises(UnsupportedTopic) as caught:
        shopify_adapter.normalize(delivery)

    # Then the message names the topic
    assert repr(topic) in str(caught.value)


def test_missing_topic_header_is_unsupported() -> None:
    # Given a delivery without X-Shopify-Topic
    delivery = shopify_delivery(
        load_event("shopify/orders_paid.json"), headers={"X-Shopify-Topic": None}
    )

    # When it is normalized
    with pytest.raises(UnsupportedTopic) as caught:
        shopify_adapter.normalize(delivery)

    # Then the message names the header
    assert str(caught.value) == "missing X-Shopify-Topic header"


# --- signatures ------------------------------------------------------------------------------


# Then no error is raised


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("not base64 at all!", "X-Shopify-Hmac-Sha256 header is not base64"),
        ("Zm9v-YmFy", "X-Shopify-Hmac-Sha256 header is not base64"),
        ("Jäne", "X-Shopify-Hmac-Sha256 header is not base64"),
        (
            base64.b64encode(b"sixteen bytes!!!").decode(),
            "X-Shopify-Hmac-Sha256 header is not an HMAC-SHA256 digest",
        ),
    ],
)
def test_malformed_signature_is_rejected(header: str, problem: str) -> None:
    # Given a delivery whose signature header is not a base64 SHA-256 digest
    delivery = shopify_delivery(
        load_event("shopify/orders_paid.json"), headers={"X-Shopify-Hmac-Sha256": header}
    )

    # When it is verified
    with pytest.raises(SignatureInvalid) as caught:
        shopify_adapter.verify(delivery, [SECRET])

    # Then the message says what is wrong with the header
    assert str(caught.value) == problem

    # Then it is refused (asserted by the raise)

    # Then no error is raised

    # Then it is refused (asserted by the raise)


@pytest.mark.parametrize("amount", [[None, None, None], [0, [1, 2], -2], {"amount": "1.00"}])
def test_an_amount_that_is_not_a_number_is_named(amount: object) -> None:
    # Given a line price sent as an array or an object (Python's Decimal would read a
    # three-item array as a (sign, digits, exponent) tuple)
    def replace_price(order: dict[str, Any]) -> None:
        order["line_items"][0]["price"] = amount

    body = edited("shopify/orders_paid.json", replace_price)

    # When it is normalized, then it is refused as a client error naming the field
    with pytest.raises(PayloadInvalid) as caught:
        shopify_adapter.normalize(shopify_delivery(body, "orders/paid"))
    assert str(caught.value).startswith("line_items.0.price: Value error, must be a number")
