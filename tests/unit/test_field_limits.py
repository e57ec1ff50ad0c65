"""The limits on what operators enter never reach what storefronts send: every real-shaped
storefront payload under tests/events/ still normalizes, its shipping address is one an
operator could enter again unchanged, and an address as long as a platform stores it (past
Shopify's 255 characters, up to a WooCommerce TEXT column) is still taken in.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shipshape.models import (
    ADDRESS_FIELD_MAX_LENGTH,
    ADDRESS_NAME_MAX_LENGTH,
    CorrectedAddress,
    StorefrontOrder,
)
from shipshape.storefronts.base import WebhookDelivery
from shipshape.storefronts.bigcommerce import bigcommerce_adapter
from shipshape.storefronts.generic import generic_adapter
from shipshape.storefronts.shopify import shopify_adapter
from shipshape.storefronts.shopify_events import ShopifyWebhookEvent, delivery_of
from shipshape.storefronts.woocommerce import woocommerce_adapter
from tests.helpers import EVENTS_DIR, load_event, webhook_delivery

RECEIVED_AT = datetime(2026, 11, 26, 15, 15, 40, tzinfo=UTC)
# The longest text a WooCommerce order address field holds: its wc_order_addresses columns
# are MySQL TEXT, 65,535 bytes.
WOO_TEXT_COLUMN = 65_535


def _delivery(headers: dict[str, str], body: bytes) -> WebhookDelivery:
    return webhook_delivery(headers, body, RECEIVED_AT)


def shopify(topic: str) -> Callable[[bytes], StorefrontOrder]:
    def normalize(body: bytes) -> StorefrontOrder:
        headers = {"X-Shopify-Topic": topic, "X-Shopify-Shop-Domain": "acme-outdoors.myshopify.com"}
        return shopify_adapter.normalize(_delivery(headers, body))

    return normalize


def woocommerce(topic: str) -> Callable[[bytes], StorefrontOrder]:
    def normalize(body: bytes) -> StorefrontOrder:
        headers = {"X-WC-Webhook-Topic": topic, "X-WC-Webhook-Source": "https://nordlicht-shop.de/"}
        return woocommerce_adapter.normalize(_delivery(headers, body))

    return normalize


def generic(body: bytes) -> StorefrontOrder:
    return generic_adapter.normalize(_delivery({"Shipshape-Source": "kite-and-kin"}, body))


def shopify_through_eventbridge(body: bytes) -> StorefrontOrder:
    """An order as Shopify's Amazon EventBridge delivery carries it: the event's detail."""
    event = ShopifyWebhookEvent.model_validate_json(body)
    return shopify_adapter.normalize(delivery_of(event, RECEIVED_AT))


def bigcommerce(body: bytes) -> StorefrontOrder:
    """An order as Shipshape reads it from BigCommerce's API (its webhooks carry only ids)."""
    return bigcommerce_adapter.normalize_resource(body, "q8kz3m1v4w")


# Every payload under tests/events/ that carries an order, with how it is normalized.
ORDERS: dict[str, Callable[[bytes], StorefrontOrder]] = {
    "shopify/orders_create_pending.json": shopify("orders/create"),
    "shopify/orders_paid.json": shopify("orders/paid"),
    "shopify/orders_updated.json": shopify("orders/updated"),
    "shopify/orders_cancelled.json": shopify("orders/cancelled"),
    "shopify/order_with_digital_line.json": shopify("orders/paid"),
    "woocommerce/order_created_pending.json": woocommerce("order.created"),
    "woocommerce/order_updated_processing.json": woocommerce("order.updated"),
    "woocommerce/order_cancelled.json": woocommerce("order.updated"),
    "generic/order_upsert_paid.json": generic,
    "generic/order_cancelled.json": generic,
    "bigcommerce/order_awaiting_fulfillment.json": bigcommerce,
    # Orders as the platforms publish them (their sources: real/SOURCES.md)
    "real/shopify-authorized.json": shopify("orders/create"),
    "real/shopify-custom-line-item-eur.json": shopify("orders/paid"),
    "real/shopify-custom-line-items-sku-null.json": shopify("orders/paid"),
    "real/shopify-legacy-fixture-authorized.json": shopify("orders/create"),
    "real/shopify-no-shipping-address-pending.json": shopify("orders/create"),
    "real/shopify-partially-paid-with-addresses.json": shopify("orders/create"),
    "real/shopify-partially-refunded.json": shopify("orders/updated"),
    "real/woocommerce-order-batch-pending.json": woocommerce("order.created"),
    "real/woocommerce-order-batch-processing.json": woocommerce("order.created"),
    "real/woocommerce-order-completed-brazil.json": woocommerce("order.created"),
    "real/woocommerce-order-created-processing.json": woocommerce("order.created"),
    "real/eventbridge-shopify-orders-paid.json": shopify_through_eventbridge,
}
# BigCommerce's webhooks name an order by id; Shipshape reads the order itself from the API.
ID_ONLY = {"bigcommerce/store_order_created.json", "bigcommerce/store_order_status_updated.json"}
# BigCommerce's published examples are pieces of an API read (an order, its products, its
# addresses: of different orders) and a webhook with a placeholder store; not one order.
PIECES = {
    "real/bigcommerce-order-digital.json",
    "real/bigcommerce-order-product-custom.json",
    "real/bigcommerce-order-product-variants.json",
    "real/bigcommerce-order-shipping-addresses.json",
    "real/bigcommerce-order.json",
    "real/bigcommerce-webhook-order-created.json",
}


# Product resources (catalog sync, not orders): tests/unit/test_catalog_sync.py maps them.
PRODUCTS = {"real/catalog/shopify-product-ipod-touch.json"}
# Webhook subscriptions as the platforms' APIs answer them (not orders): the fakes' shapes are
# held to them in tests/integration/test_onboard.py.
WEBHOOK_SUBSCRIPTIONS = {
    "real/webhooks/bigcommerce-hook-created.json",
    "real/webhooks/shopify-webhook-created.json",
    "real/webhooks/shopify-webhooks-list.json",
    "real/webhooks/woocommerce-webhook-created.json",
}


def test_every_storefront_payload_under_tests_events_is_accounted_for() -> None:
    # Given every payload file under tests/events/
    found = {str(p.relative_to(EVENTS_DIR)) for p in Path(EVENTS_DIR).rglob("*.json")}
    # When they are compared with the ones this module normalizes
    # Then each is here, so a new platform payload is checked against the limits too
    assert found == set(ORDERS) | ID_ONLY | PIECES | PRODUCTS | WEBHOOK_SUBSCRIPTIONS


@pytest.mark.parametrize("fixture", sorted(ORDERS))
def test_every_real_shaped_storefront_order_still_normalizes(fixture: str) -> None:
    # Given a payload exactly as its platform sends it
    # When it is normalized
    order = ORDERS[fixture](load_event(fixture))
    # Then it is a canonical order, and its address is one an operator could send back as a
    # correction unchanged (the dashboard keeps its name, company, second line and phone)
    assert isinstance(order, StorefrontOrder)
    if order.shipping_address is not None:
        kept = order.shipping_address.model_dump()
        assert CorrectedAddress.model_validate(kept).model_dump() == kept


def _woo_with(**shipping: str) -> bytes:
    payload = json.loads(load_event("woocommerce/order_updated_processing.json"))
    payload["shipping"].update(shipping)
    return json.dumps(payload).encode()


def _bigcommerce_with(**shipping: str) -> bytes:
    payload = json.loads(load_event("bigcommerce/order_awaiting_fulfillment.json"))
    payload["shipping_addresses"][0].update(shipping)
    return json.dumps(payload).encode()


@pytest.mark.parametrize(
    ("normalize", "body", "line1"),
    [
        (woocommerce("order.updated"), _woo_with(address_1="a" * 300), "a" * 300),
        (
            woocommerce("order.updated"),
            _woo_with(address_1="a" * WOO_TEXT_COLUMN),
            "a" * WOO_TEXT_COLUMN,
        ),
        (bigcommerce, _bigcommerce_with(street_1="b" * 300), "b" * 300),
    ],
    ids=["woocommerce-300", "woocommerce-text-column", "bigcommerce-300"],
)
def test_an_address_longer_than_shopify_allows_is_still_taken_from_platforms_that_store_it(
    normalize: Callable[[bytes], StorefrontOrder], body: bytes, line1: str
) -> None:
    # Given an order from a platform whose addresses are not bounded at Shopify's 255
    # characters, with a street line past that
    # When it is normalized
    order = normalize(body)
    # Then the order is taken in with the line as sent (address validation owns what a
    # carrier makes of it); only what an operator enters is bounded
    assert order.shipping_address is not None
    assert order.shipping_address.line1 == line1
    assert len(line1) > ADDRESS_FIELD_MAX_LENGTH


def test_a_corrected_address_takes_a_name_of_shopifys_first_and_last_name_at_their_limit() -> None:
    # Given a Shopify customer whose first and last names are each at Shopify's 255 limit,
    # joined as the adapter joins them
    name = " ".join(["f" * ADDRESS_FIELD_MAX_LENGTH, "l" * ADDRESS_FIELD_MAX_LENGTH])
    address: dict[str, Any] = {"name": name, "line1": "1 Main St", "city": "Portland",
                               "country_code": "US"}  # fmt: skip
    # When an operator sends it back in a correction
    corrected = CorrectedAddress.model_validate(address)
    # Then it is taken: the name's limit is the two names and the space between
    assert corrected.name == name
    assert len(name) == ADDRESS_NAME_MAX_LENGTH
