"""Orders exactly as the platforms publish them (tests/events/real/, each file's source in its
SOURCES.md), sent byte for byte through the HTTP webhook route, signed as the platform signs.

Every one is a valid platform order, so none may be refused (4xx) or fail (5xx): each is
accepted and reaches a state with a named owner, and its canonical fields are the payload's.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from shipshape_local.runtime import EmbeddedRuntime
from shipshape_local.storefronts import (
    Delivery,
    ShopifyStore,
    WooCommerceStore,
    sign_shopify,
    sign_woocommerce,
)
from tests.integration.stack import deliver, queue, view

REAL = Path(__file__).parents[1] / "events" / "real"


@dataclass(frozen=True)
class Expected:
    """What Shipshape makes of the payload: where the order rests and who owns it."""

    topic: str
    status: str
    owner: str
    order_number: str
    currency: str
    total: str
    skus: list[str]  # the lines to pick
    others: list[str]  # the other lines' kinds, in order
    exception: str | None = None  # the exception type it waits in, if any


PAYLOADS = {
    # authorized, not captured: waits for payment with client success; its refund (one unit
    # each of the green and black lines, refunds[0].refund_line_items) left only the red
    "shopify-authorized.json": Expected(
        "orders/create", "RECEIVED", "client-success", "#1001", "USD", "598.94",
        ["IPOD2008RED"], [],
    ),
    # three custom items (sku null) and no shipping address: the address is checked first
    "shopify-custom-line-items-sku-null.json": Expected(
        "orders/paid", "EXCEPTION", "client-success", "#1002", "USD", "270.37",
        [], ["no_sku", "no_sku", "no_sku"], "address_invalid",
    ),
    "shopify-custom-line-item-eur.json": Expected(
        "orders/paid", "EXCEPTION", "client-success", "#1002", "EUR", "238.47",
        [], ["no_sku"], "address_invalid",
    ),
    "shopify-no-shipping-address-pending.json": Expected(
        "orders/create", "RECEIVED", "client-success", "#1002", "USD", "199.00",
        ["IPOD2009BLACK"], [],
    ),
    # a deposit only (partially_paid): waits in its own state, with its owner
    "shopify-partially-paid-with-addresses.json": Expected(
        "orders/create", "PARTIALLY_PAID", "client-success", "#1002", "USD", "199.00",
        ["IPOD2009BLACK"], [],
    ),
    # paid, then partly refunded (two of its three lines, one unit each): only the red line
    # is left to ship, and its address ("Chestnut Street 92") is checked first
    "shopify-partially-refunded.json": Expected(
        "orders/updated", "EXCEPTION", "client-success", "#1001", "USD", "598.94",
        ["IPOD2008RED"], [], "address_invalid",
    ),
    "shopify-legacy-fixture-authorized.json": Expected(
        "orders/create", "RECEIVED", "client-success", "#1001", "USD", "409.94",
        ["IPOD2008GREEN", "IPOD2008RED", "IPOD2008BLACK"], [],
    ),
    # processing with a product without SKU and a SKU Nordlicht's master lacks (Bar3)
    "woocommerce-order-created-processing.json": Expected(
        "order.created", "EXCEPTION", "ops", "727", "USD", "29.35",
        ["Bar3"], ["no_sku"], "catalog_mismatch",
    ),
    # completed in the store already: recorded, nothing for the warehouse to start
    "woocommerce-order-completed-brazil.json": Expected(
        "order.created", "RECEIVED", "client-success", "723", "USD", "39.00",
        [], ["no_sku", "no_sku"],
    ),
    "woocommerce-order-batch-pending.json": Expected(
        "order.created", "RECEIVED", "client-success", "728", "USD", "62.25",
        ["Bar3"], ["no_sku", "no_sku"],
    ),
    "woocommerce-order-batch-processing.json": Expected(
        "order.created", "EXCEPTION", "ops", "729", "USD", "54.40",
        ["Bar3"], ["no_sku"], "catalog_mismatch",
    ),
}  # fmt: skip


def _as_published(delivery: Delivery, body: bytes, signature: dict[str, str]) -> Delivery:
    """The store's delivery with the file's own bytes as the body, signed over them."""
    return dataclasses.replace(delivery, body=body, headers={**delivery.headers, **signature})


def _check(runtime: EmbeddedRuntime, answer: Any, expected: Expected) -> dict[str, Any]:
    assert answer.status == 202, answer.body
    assert answer.json()["outcome"] == "created"
    order_id = answer.json()["order_id"]
    if expected.status == "EXCEPTION":
        assert runtime.wait_for(lambda: view(runtime, order_id)["status"] == "EXCEPTION")
    order = view(runtime, order_id)
    assert (order["status"], order["owner"]) == (expected.status, expected.owner)
    assert order["order_number"] == expected.order_number
    assert (order["currency"], order["total"]) == (expected.currency, expected.total)
    assert [line["sku"] for line in order["lines"]] == expected.skus
    assert [line["kind"] for line in order["other_lines"]] == expected.others
    if expected.exception is not None:
        [exception] = queue(runtime, f"?type={expected.exception}")
        assert exception["order_id"] == order_id
        assert exception["owner"] == expected.owner
    return order


def _signed(request: pytest.FixtureRequest, name: str, body: bytes) -> Delivery:
    """The file's bytes as its platform delivers them to the client of that platform: Acme
    (Shopify) or Nordlicht (WooCommerce), signed with that store's secret."""
    topic = PAYLOADS[name].topic
    if name.startswith("shopify"):
        acme: ShopifyStore = request.getfixturevalue("acme")
        signature = {"X-Shopify-Hmac-Sha256": sign_shopify(body, acme.secret)}
        return _as_published(acme.deliver(topic, json.loads(body)), body, signature)
    nordlicht: WooCommerceStore = request.getfixturevalue("nordlicht")
    signature = {"X-WC-Webhook-Signature": sign_woocommerce(body, nordlicht.secret)}
    return _as_published(nordlicht.deliver(topic, json.loads(body)), body, signature)


def _placed_at_the_storefronts_offset(name: str, payload: dict[str, Any]) -> tuple[Any, ...]:
    """When the payload says the order was placed, and at which UTC offset: Shopify states
    it with its offset; WooCommerce in local time and in GMT (the offset is their difference)."""
    if name.startswith("shopify"):
        placed = datetime.fromisoformat(payload["created_at"])
        return placed.replace(tzinfo=None), placed.utcoffset()
    local = datetime.fromisoformat(payload["date_created"])
    return local, local - datetime.fromisoformat(payload["date_created_gmt"])


ADMIN_URLS = {
    "shopify": "https://acme-outdoors.myshopify.com/admin/orders/{id}",
    "woocommerce": "https://nordlicht-shop.de/wp-admin/post.php?post={id}&action=edit",
}


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_an_order_as_its_platform_publishes_it_reaches_an_owned_state(
    request: pytest.FixtureRequest, runtime: EmbeddedRuntime, name: str
) -> None:
    # Given an order exactly as Shopify or WooCommerce publishes it, signed as the platform
    # signs it with the client's secret
    body = (REAL / name).read_bytes()
    delivery = _signed(request, name, body)

    # When it is delivered
    answer = deliver(runtime, delivery)

    # Then it is accepted and rests where its payment and lines put it, with an owner; its
    # tax and the time it was placed are the payload's, at the storefront's own offset (not
    # converted to UTC), and it links to the order in the storefront's admin
    order = _check(runtime, answer, PAYLOADS[name])
    payload = json.loads(body)
    placed = datetime.fromisoformat(order["storefront_created_at"])
    assert (placed.replace(tzinfo=None), placed.utcoffset()) == _placed_at_the_storefronts_offset(
        name, payload
    )
    assert order["tax"] == payload["total_tax"]
    platform = name.split("-", 1)[0]
    assert order["storefront_admin_url"] == ADMIN_URLS[platform].format(id=payload["id"])


def test_every_shopify_and_woocommerce_file_of_the_corpus_is_sent() -> None:
    # Given the corpus
    files = {p.name for p in REAL.glob("*.json") if p.name.startswith(("shopify", "woocommerce"))}
    # Then each Shopify and WooCommerce file is one of the payloads sent above
    assert files == set(PAYLOADS)
