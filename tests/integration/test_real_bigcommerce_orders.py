"""A BigCommerce order made of BigCommerce's own published pieces (tests/events/real/, each
file's source in its SOURCES.md), read from the store's API after its webhook, as BigCommerce
delivers it: its webhook names the order, Shipshape reads the order, its products and its
shipping addresses.

BigCommerce publishes no whole order: its V2 reference shows order 247 and two of its product
lines, and the shipping-addresses endpoint with two addresses of another order (229). The
addresses are given order 247's id and ids its lines point at; nothing else is changed. With
one address it is an ordinary order; with the two, BigCommerce's multi-address checkout (the
lines ship to different addresses), which Shipshape takes and gives to an owner, since it
ships an order to one address.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shipshape_local.runtime import EmbeddedRuntime
from shipshape_local.storefronts import BigCommerceStore
from tests.integration.stack import deliver, queue, resolve, view, wait_status

REAL = Path(__file__).parents[1] / "events" / "real"
KITE_HASH = "q8kz3m1v4w"
# The addresses' ids, as the lines of order 247 point at them (order_address_id 151).
FIRST, SECOND = 151, 152


def _published(name: str) -> Any:
    return json.loads((REAL / name).read_text())


def _order_247(*, addresses: int) -> dict[str, Any]:
    """Order 247 with its two published lines and ``addresses`` of the published addresses;
    with two, the variants line ships to the second."""
    order = _published("bigcommerce-order.json")
    custom = _published("bigcommerce-order-product-custom.json")
    variants = _published("bigcommerce-order-product-variants.json")
    shipping = _published("bigcommerce-order-shipping-addresses.json")[:addresses]
    for address, address_id in zip(shipping, (FIRST, SECOND), strict=False):
        address.update(id=address_id, order_id=order["id"])
    if addresses == 2:
        variants["order_address_id"] = SECOND
    return {"order": order, "products": [custom, variants], "shipping_addresses": shipping}


def _delivered(runtime: EmbeddedRuntime, bundle: dict[str, Any]) -> dict[str, Any]:
    fake = runtime.storefronts
    assert fake is not None
    fake.bigcommerce(KITE_HASH).put_order(bundle)
    store = BigCommerceStore(
        "kite-and-kin", KITE_HASH, runtime.secret("shipshape/kite-and-kin/bigcommerce-webhook")
    )
    answer = deliver(runtime, store.deliver("store/order/created", bundle))
    assert answer.status == 202, answer.body
    assert answer.json()["outcome"] == "created"
    order_id = str(answer.json()["order_id"])
    assert runtime.wait_for(lambda: view(runtime, order_id)["status"] == "EXCEPTION")
    return view(runtime, order_id)


def test_a_published_bigcommerce_order_is_read_and_owned(runtime: EmbeddedRuntime) -> None:
    # Given order 247 as BigCommerce publishes it, shipping to one address, in Kite & Kin's
    # store, whose SKU master has neither of its SKUs
    bundle = _order_247(addresses=1)

    # When its webhook arrives
    order = _delivered(runtime, bundle)

    # Then it is read from the API and recorded as published (the amounts exact, the SKU with
    # spaces kept), and its unknown SKUs wait with ops in a catalog_mismatch
    assert (order["platform"], order["storefront_order_id"]) == ("bigcommerce", "247")
    assert (order["currency"], order["total"]) == ("USD", "1008.7400")
    assert [line["sku"] for line in order["lines"]] == [
        "Jour-BLK",
        "SKU-201-Red-Small T-Shirt-Able Brewing System",
    ]
    assert order["shipping_address"]["line1"] == "666 Sussex St"
    assert order["storefront_admin_url"] == (
        f"https://store-{KITE_HASH}.mybigcommerce.com/manage/orders/247"
    )
    [exception] = queue(runtime, "?type=catalog_mismatch")
    assert (exception["order_id"], exception["owner"]) == (order["order_id"], "ops")


def test_a_multi_address_bigcommerce_order_is_taken_and_owned(runtime: EmbeddedRuntime) -> None:
    # Given the same order with its lines going to the two published addresses
    bundle = _order_247(addresses=2)

    # When its webhook arrives
    order = _delivered(runtime, bundle)

    # Then it is not refused (a valid BigCommerce order): it is recorded with every line and
    # the first address, and waits with its address owner (client success at Kite & Kin) in an
    # address_invalid that says why
    assert [line["sku"] for line in order["lines"]] == [
        "Jour-BLK",
        "SKU-201-Red-Small T-Shirt-Able Brewing System",
    ]
    assert order["shipping_address"]["line1"] == "666 Sussex St"
    [exception] = queue(runtime, "?type=address_invalid")
    assert (exception["order_id"], exception["owner"]) == (order["order_id"], "client-success")
    assert "the order ships to 2 addresses" in exception["detail"]

    # And when client success retries it with the one address the client approves for every
    # line, the order goes on past address validation (to its SKUs, unknown at Kite & Kin)
    approved = {"line1": "555 Main Street", "city": "Austin", "region": "TX",
                "postal_code": "78751", "country_code": "US"}  # fmt: skip
    note = "client approved one parcel to Austin"
    retried = resolve(
        runtime, exception["exception_id"], {"action": "retry", "note": note, "address": approved}
    )
    assert retried.status == 202, retried.body
    assert runtime.wait_for(lambda: queue(runtime, "?type=catalog_mismatch") != [])
    moved = wait_status(runtime, order["order_id"], "EXCEPTION")
    assert moved["shipping_address"]["line1"] == "555 Main Street"
