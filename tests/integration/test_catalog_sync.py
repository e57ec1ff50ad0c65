"""The catalog sync against the fake storefront server and the embedded stack (moto, the real
handlers and ASL): products read page by page over HTTP arrive in the SKU master, a product
changed in the storefront is updated, a deleted one becomes inactive, a product webhook signed
as Shopify signs creates the SKU, and a SKU synced from the storefront takes stock and orders."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shipshape.adapters.storefront_http import HttpStorefrontApi
from shipshape.bootstrap import container
from shipshape.config import ClientConfig, StoreConfig, load_client_file
from shipshape.models import Platform
from shipshape.services.catalog import ChangeKind, sync_catalog
from shipshape.storefronts.api import API_URL_ENV
from shipshape_local.fakestore import FakeStorefronts
from shipshape_local.runtime import EmbeddedRuntime, ManualClock
from shipshape_local.storefronts import Line, ShopifyStore
from tests.builders import paid_shopify_order
from tests.fakes import FixedSecrets, InMemoryInventory, SettableClock
from tests.helpers import load_event
from tests.integration.stack import LEAD, deliver, new_sku, queue, receive, units, view

SHOP = "acme-outdoors.myshopify.com"
CLIENTS = Path(__file__).parents[2] / "config" / "clients"


@pytest.fixture
def acme_config() -> ClientConfig:
    return load_client_file(CLIENTS / "acme-outdoors.toml")


def _products(count: int) -> list[dict[str, Any]]:
    """``count`` products shaped as Shopify's reference product, each one variant."""
    real = json.loads(load_event("real/catalog/shopify-product-ipod-touch.json"))
    made = []
    for n in range(1, count + 1):
        variant = {**real["variants"][0], "id": 447654529 + n, "sku": f"IPOD-{n:02d}",
                   "barcode": f"1234_{n:02d}"}  # fmt: skip
        made.append({**real, "id": 921728736 + n, "title": f"IPod {n}", "variants": [variant]})
    return made


def _sync(page_size: int) -> Any:
    deps = container()
    api = HttpStorefrontApi(deps.secrets, page_size=page_size)
    [result] = sync_catalog(
        client=deps.clients.get("acme-outdoors"), storefronts=api, inventory=deps.inventory,
        clock=deps.clock,
    )  # fmt: skip
    return result


def test_products_read_page_by_page_arrive_changed_ones_update_deleted_ones_go_inactive(
    runtime: EmbeddedRuntime, clock: ManualClock
) -> None:
    # Given Acme's shop with 5 products, read 2 to a page
    assert runtime.storefronts is not None
    shop = runtime.storefronts.shopify(SHOP)
    for product in _products(5):
        shop.put_product(product)

    # When the catalog is synced
    first = _sync(page_size=2)

    # Then all 5 SKUs are in the SKU master, read over 3 pages following the Link header
    pages = [r for r in runtime.storefronts.requests_to("shopify", SHOP) if "products" in r.path]
    assert [(r.status, "page_info" in r.query) for r in pages] == [
        (200, False), (200, True), (200, True),
    ]  # fmt: skip
    assert (first.products, first.count(ChangeKind.CREATED)) == (5, 5)
    skus = [f"IPOD-{n:02d}" for n in range(1, 6)]
    masters = container().inventory.skus("acme-outdoors", skus)
    assert sorted(masters) == skus
    assert masters["IPOD-03"].barcode == "1234_03"
    assert masters["IPOD-03"].unit_weight_grams == 567

    # When the merchant changes product 3's weight and archives product 4, and syncs again
    shop.update_product(921728736 + 3, variants={447654529 + 3: {"weight": 2, "weight_unit": "kg"}})
    shop.update_product(921728736 + 4, status="archived")
    second = _sync(page_size=2)

    # Then product 3 is updated, product 4 inactive, the others unchanged
    changes = {c.sku: (c.change, c.fields) for c in second.changes}
    assert changes == {
        "IPOD-01": (ChangeKind.UNCHANGED, []),
        "IPOD-02": (ChangeKind.UNCHANGED, []),
        "IPOD-03": (ChangeKind.UPDATED, ["unit_weight_grams"]),
        "IPOD-04": (ChangeKind.INACTIVATED, ["active"]),
        "IPOD-05": (ChangeKind.UNCHANGED, []),
    }
    masters = container().inventory.skus("acme-outdoors", skus)
    assert masters["IPOD-03"].unit_weight_grams == 2000
    assert masters["IPOD-04"].active is False

    # When product 5 is deleted in the shop and its products/delete webhook is delivered
    shop.delete_product(921728736 + 5)
    acme = ShopifyStore(
        "acme-outdoors", SHOP, runtime.secret("shipshape/acme-outdoors/shopify-webhook")
    )
    answer = deliver(runtime, acme.deliver("products/delete", {"id": 921728736 + 5}))

    # Then it is inactive in the SKU master, not erased
    assert answer.status == 202, answer.body
    assert answer.json()["changes"][0]["change"] == "inactivated"
    master = container().inventory.skus("acme-outdoors", ["IPOD-05"])["IPOD-05"]
    assert (master.active, master.barcode) == (False, "1234_05")


def test_a_signed_product_webhook_creates_the_sku_which_then_takes_stock_and_orders(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: Any
) -> None:
    # Given a products/create webhook for a SKU the SKU master lacks, signed as Shopify signs
    [product] = _products(1)
    answer = deliver(runtime, acme.deliver("products/create", product))
    assert answer.status == 202, answer.body
    assert answer.json()["changes"][0] == {
        "sku": "IPOD-01", "change": "created",
        "fields": ["title", "barcode", "unit_weight_grams", "active"],
        "before": {"title": None, "barcode": None, "unit_weight_grams": None, "active": None},
        "after": {"title": "IPod 1 - Black", "barcode": "1234_01", "unit_weight_grams": 567,
                  "active": True},
    }  # fmt: skip

    # When the warehouse receives stock of it, and a paid order for it arrives
    receive(warehouse, "acme-outdoors", "IPOD-01", 10)
    line = Line("IPOD-01", "IPod 1 - Black", 2, "199.00")
    placed = deliver(
        runtime, acme.deliver("orders/paid", paid_shopify_order(acme, clock, lines=[line]))
    )
    order_id = placed.json()["order_id"]
    assert runtime.wait_for(lambda: view(runtime, order_id)["status"] == "EXCEPTION")

    # Then the stock was accepted and reserved: no catalog_mismatch, the order stops at the
    # pre-pick gate naming the dimensions the warehouse has yet to send
    assert units("acme-outdoors", "IPOD-01") == (8, 2)
    assert queue(runtime, "?client=acme-outdoors&type=catalog_mismatch") == []
    [failed] = queue(runtime, "?client=acme-outdoors&type=qa_failed")
    assert failed["order_id"] == order_id
    assert "IPOD-01 has no length_mm, width_mm, height_mm in the SKU master" in failed["detail"]


def _catalog_item(runtime: EmbeddedRuntime) -> dict[str, Any]:
    answer = runtime.http("GET", "/checklist?client=acme-outdoors", headers=LEAD)
    assert answer.status == 200, answer.body
    [item] = [i for i in answer.json()["items"] if i["key"] == "catalog_in_sync"]
    return dict(item)


def test_the_checklist_names_ordered_skus_not_in_sync_until_they_are(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: Any
) -> None:
    # Given Acme's tent synced from the storefront (measured by the warehouse already), a new
    # product synced but not measured, and one order for each, plus one for a SKU nobody has
    real = json.loads(load_event("real/catalog/shopify-product-ipod-touch.json"))
    tent = {**real, "id": 7001, "title": "Ridgeline 2P tent",
            "variants": [{**real["variants"][0], "id": 7101, "sku": "TENT-2P-GRN"}]}  # fmt: skip
    [ipod] = _products(1)
    for product in (tent, ipod):
        assert deliver(runtime, acme.deliver("products/update", product)).status == 202
    lines = {
        1: Line("TENT-2P-GRN", "Ridgeline 2P tent", 1, "249.00"),
        2: Line("IPOD-01", "IPod 1 - Black", 1, "199.00"),
        3: Line("GHOST-SKU", "Something else", 1, "5.00"),
    }
    for n, line in lines.items():
        paid = paid_shopify_order(acme, clock, 5_600_100 + n, lines=[line])
        assert deliver(runtime, acme.deliver("orders/paid", paid)).status == 202

    # When the lead reads the checklist a minute later
    clock.advance(timedelta(minutes=1))
    item = _catalog_item(runtime)

    # Then the item names the SKU the master lacks and the one not measured, not the tent
    assert item["ok"] is False
    assert item["entries"] == [
        {"sku": "GHOST-SKU", "orders": "1", "problem": "not in the SKU master"},
        {"sku": "IPOD-01", "orders": "1",
         "problem": "no length_mm, width_mm, height_mm (the warehouse sends them)"},
    ]  # fmt: skip

    # When the warehouse measures the new product and the missing SKU is synced
    new_sku(warehouse, "acme-outdoors", "IPOD-01")
    ghost = {**real, "id": 7002, "title": "Ghost",
             "variants": [{**real["variants"][0], "id": 7102, "sku": "GHOST-SKU"}]}  # fmt: skip
    assert deliver(runtime, acme.deliver("products/create", ghost)).status == 202
    new_sku(warehouse, "acme-outdoors", "GHOST-SKU")

    # Then the catalog is in sync
    item = _catalog_item(runtime)
    assert (item["ok"], item["entries"]) == (True, [])
    assert item["summary"] == "all 3 SKU(s) ordered this week are in the SKU master as sold"


def _woo_product(product_id: int, **fields: Any) -> dict[str, Any]:
    """A WooCommerce REST v3 product as its reference documents it
    (woocommerce.github.io/woocommerce-rest-api-docs, "Product properties"): ``weight`` is
    text in the store's weight unit, ``global_unique_id`` the GTIN/UPC/EAN/ISBN."""
    return {
        "id": product_id, "name": f"Lampe {product_id}", "slug": f"lampe-{product_id}",
        "type": "simple", "status": "publish", "sku": f"LAMPE-{product_id}",
        "weight": "1.2", "global_unique_id": f"40123456{product_id:05d}",
        "date_modified": "2026-11-20T16:15:32", "date_modified_gmt": "2026-11-20T15:15:32",
        "parent_id": 0, "variations": [], "attributes": [],
        **fields,
    }  # fmt: skip


def test_woocommerce_products_and_variations_are_pulled_and_product_webhooks_apply(
    runtime: EmbeddedRuntime, nordlicht: Any, clock: ManualClock
) -> None:
    # Given Nordlicht's site with a simple product and a variable one of two variations
    assert runtime.storefronts is not None
    site = runtime.storefronts.woocommerce("https://nordlicht-shop.de/")
    site.put_product(_woo_product(301))
    site.put_product(_woo_product(302, type="variable", sku=""))
    for variation_id, colour in ((3021, "Eiche"), (3022, "Nussbaum")):
        site.put_variation(302, _woo_product(
            variation_id, name="", sku=f"SCHIRM-{colour.upper()}", weight="0.45",
            attributes=[{"name": "Holz", "option": colour}],
        ))  # fmt: skip
    deps = container()

    # When the catalog is synced, one item to a page (the store weighs in kg)
    [result] = sync_catalog(
        client=deps.clients.get("nordlicht"), storefronts=HttpStorefrontApi(
            deps.secrets, page_size=1), inventory=deps.inventory, clock=deps.clock,
        platforms=[Platform.WOOCOMMERCE],
    )  # fmt: skip

    # Then the simple product and both variations are SKUs, the variable product itself not
    assert sorted((c.sku, c.change) for c in result.changes) == [
        ("LAMPE-301", ChangeKind.CREATED),
        ("SCHIRM-EICHE", ChangeKind.CREATED),
        ("SCHIRM-NUSSBAUM", ChangeKind.CREATED),
    ]
    skus = ["LAMPE-301", "SCHIRM-EICHE", "SCHIRM-NUSSBAUM"]
    masters = deps.inventory.skus("nordlicht", skus)
    assert (masters["LAMPE-301"].unit_weight_grams, masters["LAMPE-301"].barcode) == (
        1200, "4012345600301",
    )  # fmt: skip
    assert masters["SCHIRM-EICHE"].title == "Lampe 302 - Eiche"
    assert masters["SCHIRM-EICHE"].unit_weight_grams == 450

    # When the merchant unpublishes the lamp (product.updated), then deletes a variation
    changed = _woo_product(301, status="draft", date_modified_gmt="2026-11-21T08:00:00")
    updated = deliver(runtime, nordlicht.deliver("product.updated", changed))
    deleted = deliver(runtime, nordlicht.deliver("product.deleted", {"id": 3022}))

    # Then both are inactive in the SKU master, and still there
    assert updated.status == 202, updated.body
    assert updated.json()["changes"][0]["change"] == "inactivated"
    assert deleted.status == 202, deleted.body
    masters = deps.inventory.skus("nordlicht", skus)
    assert [masters[s].active for s in skus] == [False, True, False]


BIGCOMMERCE_STORE = StoreConfig(
    platform=Platform.BIGCOMMERCE, store="7tq2xk9rbd", weight_unit="lbs",
    webhook_secret_name="shipshape/test/bigcommerce-webhook",
    api_token_secret_name="shipshape/test/bigcommerce-api-token",
)  # fmt: skip


def _bc_product(product_id: int, **fields: Any) -> dict[str, Any]:
    """A v3 Catalog product with ``include=variants``, shaped as BigCommerce's reference
    documents it (developer.bigcommerce.com, Catalog API, "Get all products"): ``weight`` in
    the store's unit, a variant's null ``weight`` inheriting the product's."""
    return {
        "id": product_id, "name": f"Kite {product_id}", "type": "physical",
        "sku": f"KITE-{product_id}", "weight": 2.0, "upc": "", "gtin": "",
        "availability": "available", "is_visible": True,
        "date_modified": "2026-11-20T15:15:32+00:00",
        "variants": [
            {"id": product_id * 10 + 1, "product_id": product_id, "sku": f"KITE-{product_id}-RED",
             "weight": None, "upc": f"0{product_id}1", "gtin": "", "purchasing_disabled": False,
             "option_values": [{"label": "Red", "option_display_name": "Colour"}]},
            {"id": product_id * 10 + 2, "product_id": product_id, "sku": f"KITE-{product_id}-BLU",
             "weight": 1.5, "upc": "", "gtin": f"0{product_id}2", "purchasing_disabled": True,
             "option_values": [{"label": "Blue", "option_display_name": "Colour"}]},
        ],
        **fields,
    }  # fmt: skip


def test_bigcommerce_catalog_is_pulled_page_by_page_with_variants(
    monkeypatch: pytest.MonkeyPatch, acme_config: ClientConfig
) -> None:
    # Given a BigCommerce store (weights in lb) with 3 products of 2 variants each
    token = "test-only-bigcommerce-api-token"
    with FakeStorefronts({("bigcommerce", BIGCOMMERCE_STORE.store): token}) as fake:
        monkeypatch.setenv(API_URL_ENV, fake.url)
        store = fake.bigcommerce(BIGCOMMERCE_STORE.store)
        for product_id in (11, 12, 13):
            store.put_product(_bc_product(product_id))
        secrets = FixedSecrets({"shipshape/test/bigcommerce-api-token": token.encode()})
        inventory = InMemoryInventory(threading.Lock())
        client = acme_config.model_copy(update={"stores": (BIGCOMMERCE_STORE,)})

        # When its catalog is synced, 2 products to a page
        [result] = sync_catalog(
            client=client, storefronts=HttpStorefrontApi(secrets, page_size=2),
            inventory=inventory, clock=SettableClock(datetime(2026, 11, 23, tzinfo=UTC)),
            platforms=[Platform.BIGCOMMERCE],
        )  # fmt: skip
        pages = [r.query for r in fake.requests_to("bigcommerce", BIGCOMMERCE_STORE.store)]

    # Then both pages were read, and every variant is a SKU with its own or the product's
    # weight in grams, its barcode, and on sale unless its purchasing is disabled
    assert len(pages) == 2 and all("include=variants" in q for q in pages)
    assert (result.products, result.count(ChangeKind.CREATED)) == (3, 6)
    masters = inventory.skus("acme-outdoors", ["KITE-12-RED", "KITE-12-BLU"])
    red, blue = masters["KITE-12-RED"], masters["KITE-12-BLU"]
    assert (red.title, red.unit_weight_grams, red.barcode, red.active) == (
        "Kite 12 - Red", 907, "0121", True,
    )  # fmt: skip
    assert (blue.unit_weight_grams, blue.barcode, blue.active) == (680, "0122", False)
