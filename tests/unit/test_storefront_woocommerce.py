"""The WooCommerce adapter against real-shaped ``order.*`` webhooks and the save-time ping.

What every adapter shares (verification, the store a delivery claims, a paid order's canonical
form, the registry) is checked once for all four in test_storefront_contract.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from shipshape.errors import PayloadInvalid, SignatureInvalid, UnsupportedTopic
from shipshape.models import (
    Address,
    Customer,
    LineKind,
    OrderLine,
    OtherLine,
    PaymentState,
    Platform,
)
from shipshape.storefronts import WooCommercePing
from shipshape.storefronts.base import WebhookDelivery
from shipshape.storefronts.woocommerce import woocommerce_adapter
from tests.builders import LENA_AT_THE_OFFICE
from tests.builders import WOOCOMMERCE_MUGS as MUGS
from tests.builders import WOOCOMMERCE_SITE as SITE
from tests.builders import WOOCOMMERCE_TENT as TENT
from tests.helpers import load_event, sign_woocommerce, webhook_delivery

SECRET = b"Hk#2vQ9!mR7tZx4$Lp8wNc3&"
RECEIVED_AT = datetime(2026, 11, 20, 15, 15, 34, tzinfo=UTC)


def woo_delivery(
    body: bytes,
    topic: str = "order.created",
    *,
    secret: bytes = SECRET,
    headers: Mapping[str, str | None] | None = None,
) -> WebhookDelivery:
    """A delivery with every header WooCommerce sends; ``headers`` overrides (None drops one)."""
    resource, _, event = topic.partition(".")
    sent: dict[str, str | None] = {
        "Content-Type": "application/json",
        "User-Agent": "WooCommerce/9.4.2 Hookshot (WordPress/6.7.1)",
        "X-WC-Webhook-Source": SITE,
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-Signature": sign_woocommerce(body, secret),
        "X-WC-Webhook-ID": "12",
        "X-WC-Webhook-Delivery-ID": "3f5e9a0c1b7d2e4f6a8c0b2d4e6f8a1c",
        **(headers or {}),
    }
    present = {name: value for name, value in sent.items() if value is not None}
    return webhook_delivery(present, body, RECEIVED_AT)


def ping_delivery() -> WebhookDelivery:
    """The ping WooCommerce POSTs when a webhook is saved: form body, no X-WC-* headers."""
    return webhook_delivery(
        {
            "User-Agent": "WooCommerce/9.4.2 Hookshot (WordPress/6.7.1)",
            "Content-Type": "application/x-www-form-urlencoded",
        },
        b"webhook_id=12",
        RECEIVED_AT,
    )


def edited(fixture: str, edit: Callable[[dict[str, Any]], None]) -> bytes:
    payload = json.loads(load_event(fixture))
    edit(payload)
    return json.dumps(payload).encode()


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp()) * 1000


# --- normalization of every fixture ---------------------------------------------------------


def test_pending_order_is_recorded_but_not_ready_to_fulfil() -> None:
    # Given an order.created webhook for an order awaiting its PayPal payment
    delivery = woo_delivery(load_event("woocommerce/order_created_pending.json"), "order.created")

    # When it is normalized
    order = woocommerce_adapter.normalize(delivery)

    # Then every canonical field comes from the payload, and nothing may be fulfilled yet
    assert order.platform is Platform.WOOCOMMERCE
    assert order.store == SITE
    assert order.business_key() == ("woocommerce", SITE, "4711")
    assert order.order_number == "4711"
    # date_modified_gmt carries no offset: it is read as UTC, not as local Berlin time
    assert order.storefront_updated_at == datetime(2026, 11, 20, 15, 15, 32, tzinfo=UTC)
    assert order.version == epoch_ms(datetime(2026, 11, 20, 15, 15, 32, tzinfo=UTC))
    assert order.payment is PaymentState.PENDING
    assert order.ready_to_fulfil is False
    assert order.cancelled is False
    assert order.currency == "EUR"
    assert order.total == Decimal("293.70")
    assert order.customer == Customer(
        name="Lena Vogel", email="lena.vogel@example.org", phone="+49 30 55501234"
    )
    assert order.shipping_address == LENA_AT_THE_OFFICE
    assert order.lines == (TENT, MUGS)


def test_processing_order_is_the_same_order_newer_than_the_pending_one() -> None:
    # Given the order.created and the later order.updated (now processing) of one order (the
    # processing one's every field: test_storefront_contract.py)
    pending = woocommerce_adapter.normalize(
        woo_delivery(load_event("woocommerce/order_created_pending.json"), "order.created")
    )
    delivery = woo_delivery(
        load_event("woocommerce/order_updated_processing.json"), "order.updated"
    )

    # When the update is normalized
    processing = woocommerce_adapter.normalize(delivery)

    # Then it is the same order, a greater version
    assert processing.business_key() == pending.business_key()
    assert processing.version > pending.version


def test_cancelled_unpaid_order_ships_to_billing_and_is_not_ready() -> None:
    # Given an order.updated webhook for an unpaid order WooCommerce cancelled after an hour
    delivery = woo_delivery(load_event("woocommerce/order_cancelled.json"), "order.updated")

    # When it is normalized
    order = woocommerce_adapter.normalize(delivery)

    # Then it is cancelled and unpaid; its blank shipping block falls back to billing
    assert order.storefront_order_id == "4712"
    assert order.version == epoch_ms(datetime(2026, 11, 20, 18, 2, 40, tzinfo=UTC))
    assert order.cancelled is True
    assert order.payment is PaymentState.PENDING
    assert order.ready_to_fulfil is False
    assert order.customer == Customer(
        name="Jonas Krüger", email="jonas.krueger@example.net", phone="+49 151 55507731"
    )
    assert order.shipping_address == Address(
        name="Jonas Krüger",
        company=None,
        line1="Torstraße 49",
        line2="Hinterhaus",
        city="Berlin",
        region=None,
        postal_code="10119",
        country_code="DE",
        phone="+49 151 55507731",
    )
    assert order.lines == (
        OrderLine(
            line_id="1902",
            sku="MUG-ENAMEL-12",
            title="Emaille-Becher 12 oz",
            quantity=1,
            unit_price=Decimal("16.722689"),
        ),
    )


# --- mapping rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "date_paid_gmt", "payment", "ready", "cancelled"),
    [
        ("pending", None, PaymentState.PENDING, False, False),
        ("on-hold", None, PaymentState.PENDING, False, False),
        ("checkout-draft", None, PaymentState.PENDING, False, False),
        ("processing", "2026-11-20T15:17:03", PaymentState.PAID, True, False),
        ("completed", "2026-11-20T15:17:03", PaymentState.PAID, False, False),
        ("on-hold", "2026-11-20T15:17:03", PaymentState.PAID, False, False),
        ("refunded", "2026-11-20T15:17:03", PaymentState.REFUNDED, False, False),
        ("failed", None, PaymentState.PENDING, False, False),
        ("cancelled", None, PaymentState.PENDING, False, True),
        ("cancelled", "2026-11-20T15:17:03", PaymentState.PAID, False, True),
        ("trash", None, PaymentState.PENDING, False, True),
    ],
)
def test_status_decides_payment_readiness_and_cancellation(
    status: str, date_paid_gmt: str | None, payment: PaymentState, ready: bool, cancelled: bool
) -> None:
    # Given an order.updated delivery with this status and payment date
    body = edited(
        "woocommerce/order_updated_processing.json",
        lambda o: o.update(status=status, date_paid_gmt=date_paid_gmt),
    )

    # When it is normalized
    order = woocommerce_adapter.normalize(woo_delivery(body, "order.updated"))

    # Then payment, readiness and cancellation follow the documented statuses
    assert (order.payment, order.ready_to_fulfil, order.cancelled) == (payment, ready, cancelled)


def test_order_with_no_address_at_all_has_no_shipping_address() -> None:
    # Given an order whose shipping and billing blocks both lack a street
    def blank_addresses(order: dict[str, Any]) -> None:
        order["shipping"]["address_1"] = ""
        order["billing"]["address_1"] = ""

    body = edited("woocommerce/order_updated_processing.json", blank_addresses)

    # When it is normalized
    order = woocommerce_adapter.normalize(woo_delivery(body, "order.updated"))

    # Then no address is invented; the workflow's address check owns the problem
    assert order.shipping_address is None


@pytest.mark.parametrize("sku", [None, "", "  "])
def test_a_line_without_sku_is_kept_as_a_line_to_map(sku: str | None) -> None:
    # Given an order whose second line has no SKU (WooCommerce's own examples sell products
    # with no SKU set; a deleted product's line has null)
    body = edited(
        "woocommerce/order_updated_processing.json",
        lambda o: o["line_items"][1].update(sku=sku),
    )

    # When it is normalized
    order = woocommerce_adapter.normalize(woo_delivery(body, "order.updated"))

    # Then it is accepted: the tent is a line to pick, the mug a line with no SKU yet
    assert [line.sku for line in order.lines] == ["TENT-2P-GRN"]
    assert order.other_lines == (
        OtherLine(
            line_id="1894", kind=LineKind.NO_SKU, title="Emaille-Becher 12 oz", quantity=2,
            unit_price=Decimal("16.722689"),
        ),
    )  # fmt: skip


def test_order_without_lines_is_rejected() -> None:
    # Given an order with no line items
    body = edited("woocommerce/order_updated_processing.json", lambda o: o.update(line_items=[]))

    # When it is normalized
    with pytest.raises(PayloadInvalid) as caught:
        woocommerce_adapter.normalize(woo_delivery(body, "order.updated"))

    # Then it is refused, naming the field
    assert str(caught.value).startswith("line_items: ")


def test_country_that_is_not_iso_is_rejected_naming_the_field() -> None:
    # Given a shipping address whose country is a name, not an ISO code
    body = edited(
        "woocommerce/order_updated_processing.json",
        lambda o: o["shipping"].update(country="Deutschland"),
    )

    # When it is normalized
    with pytest.raises(PayloadInvalid) as caught:
        woocommerce_adapter.normalize(woo_delivery(body, "order.updated"))

    # Then the message names the WooCommerce field
    assert str(caught.value).startswith("shipping.country: String should match pattern")


def test_address_without_country_is_rejected_naming_the_field() -> None:
    # Given a shipping address with a street but no country (an order keyed in by hand)
    body = edited(
        "woocommerce/order_updated_processing.json", lambda o: o["shipping"].update(country="")
    )

    # When it is normalized
    with pytest.raises(PayloadInvalid) as caught:
        woocommerce_adapter.normalize(woo_delivery(body, "order.updated"))

    # Then the message names the WooCommerce field
    assert str(caught.value) == "shipping.country is empty; Shipshape cannot ship without one"


# --- malformed payloads ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"", b"<html>", b'{"id": 4711,', b"\xff\xfe\x00", b"[]", b"42"],
    ids=["empty", "html", "truncated", "binary", "array", "number"],
)
def test_malformed_body_is_payload_invalid(body: bytes) -> None:
    # Given an order.updated delivery whose body is not a JSON order object
    delivery = woo_delivery(body, "order.updated")

    # When it is normalized
    with pytest.raises(PayloadInvalid) as caught:
        woocommerce_adapter.normalize(delivery)

    # Then it is a client error about the body, not a crash
    assert str(caught.value).startswith("body: ")


@pytest.mark.parametrize(
    ("field", "named"),
    [
        (("date_modified_gmt",), "date_modified_gmt: Field required"),
        (("status",), "status: Field required"),
        (("id",), "id: Field required"),
        (("line_items", 0, "quantity"), "line_items.0.quantity: Field required"),
        (("line_items", 1, "price"), "line_items.1.price: Field required"),
    ],
)
def test_missing_required_field_is_named(field: tuple[str | int, ...], named: str) -> None:
    # Given a payload without one field Shipshape reads
    def drop(order: dict[str, Any]) -> None:
        parent: Any = order
        for key in field[:-1]:
            parent = parent[key]
        del parent[field[-1]]

    body = edited("woocommerce/order_updated_processing.json", drop)

    # When it is normalized
    with pytest.raises(PayloadInvalid) as caught:
        woocommerce_adapter.normalize(woo_delivery(body, "order.updated"))

    # Then the message names that field
    assert str(caught.value).startswith(named)


def test_custom_status_is_named() -> None:
    # Given a status added by a plugin, whose meaning Shipshape cannot know
    body = edited(
        "woocommerce/order_updated_processing.json", lambda o: o.update(status="awaiting-pickup")
    )

    # When it is normalized
    with pytest.raises(PayloadInvalid) as caught:
        woocommerce_adapter.normalize(woo_delivery(body, "order.updated"))

    # Then the message names the field
    assert str(caught.value).startswith("status: Input should be ")


# --- topics, ping and headers ----------------------------------------------------------------


@pytest.mark.parametrize(
    "topic", ["order.deleted", "order.restored", "product.updated", "action.woocommerce_new_order"]
)
def test_unsupported_topic_is_named(topic: str) -> None:
    # Given a delivery for a topic Shipshape does not subscribe to
    delivery = woo_delivery(load_event("woocommerce/order_updated_processing.json"), topic)

    # When it is normalized
    with pytest.raises(UnsupportedTopic) as caught:
        woocommerce_adapter.normalize(delivery)

    # Then the message names the topic, and it is not mistaken for a ping
    assert repr(topic) in str(caught.value)
    assert not isinstance(caught.value, WooCommercePing)


def test_ping_is_reported_by_verify_as_a_ping_not_a_bad_signature() -> None:
    # Given the unsigned ping WooCommerce sends when the webhook is saved
    delivery = ping_delivery()

    # When it is verified
    with pytest.raises(WooCommercePing) as caught:
        woocommerce_adapter.verify(delivery, [SECRET])

    # Then it is an unsupported topic naming the webhook, and claims no store
    assert isinstance(caught.value, UnsupportedTopic)
    assert "webhook 12" in str(caught.value)
    assert woocommerce_adapter.claimed_store(delivery) is None


@pytest.mark.parametrize(
    "body", [b"webhook_id=12", b"  webhook_id=12\r\n"], ids=["as-sent", "padded"]
)
def test_the_ping_is_answered_with_what_it_is_and_why_nothing_was_taken(body: bytes) -> None:
    # Given the ping WooCommerce sends when webhook 12 is saved (whitespace around its body
    # from a proxy changes nothing)
    delivery = webhook_delivery(
        {"Content-Type": "application/x-www-form-urlencoded"}, body, RECEIVED_AT
    )

    # When it is verified
    with pytest.raises(WooCommercePing) as caught:
        woocommerce_adapter.verify(delivery, [SECRET])

    # Then the answer (the detail WooCommerce shows in the webhook's delivery log) says what
    # arrived and why no order was taken from it
    assert str(caught.value) == (
        "WooCommerce ping for webhook 12 (sent when a webhook is saved, unsigned and without a "
        "topic); it carries no order"
    )


def test_ping_is_reported_by_normalize_as_a_ping() -> None:
    # Given the ping, reaching normalize
    delivery = ping_delivery()

    # When it is normalized
    with pytest.raises(WooCommercePing) as caught:
        woocommerce_adapter.normalize(delivery)

    # Then it is an unsupported topic, not a JSON error
    assert isinstance(caught.value, UnsupportedTopic)


def test_ping_shaped_body_with_a_forged_signature_is_a_bad_signature() -> None:
    # Given a ping-shaped body that does carry a signature header, a wrong one
    delivery = woo_delivery(
        b"webhook_id=12", headers={"X-WC-Webhook-Signature": sign_woocommerce(b"x", SECRET)}
    )

    # When it is verified
    with pytest.raises(SignatureInvalid):
        woocommerce_adapter.verify(delivery, [SECRET])

    # Then the signature is checked like any other (asserted by the raise)


def test_missing_topic_header_is_unsupported() -> None:
    # Given a JSON delivery without X-WC-Webhook-Topic
    delivery = woo_delivery(
        load_event("woocommerce/order_updated_processing.json"),
        headers={"X-WC-Webhook-Topic": None},
    )

    # When it is normalized
    with pytest.raises(UnsupportedTopic) as caught:
        woocommerce_adapter.normalize(delivery)

    # Then the message names the header
    assert str(caught.value) == "missing X-WC-Webhook-Topic header"


# --- signatures ------------------------------------------------------------------------------


# Then no error is raised


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("%%%", "X-WC-Webhook-Signature header is not base64"),
        ("c2hvcnQ=", "X-WC-Webhook-Signature header is not an HMAC-SHA256 digest"),
    ],
)
def test_malformed_signature_is_rejected(header: str, problem: str) -> None:
    # Given a delivery whose signature header is not a base64 SHA-256 digest
    delivery = woo_delivery(
        load_event("woocommerce/order_created_pending.json"),
        headers={"X-WC-Webhook-Signature": header},
    )

    # When it is verified
    with pytest.raises(SignatureInvalid) as caught:
        woocommerce_adapter.verify(delivery, [SECRET])

    # Then the message says what is wrong with the header
    assert str(caught.value) == problem

    # Then it is refused (asserted by the raise)

    # Then no error is raised
