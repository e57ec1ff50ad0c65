"""The catalog sync's domain: a storefront product applied to the SKU master beside the
warehouse's facts (merged on read), versions ordered per source, deletions made inactive,
product webhooks verified as order webhooks are, and a SKU known only from the storefront
stopped at the pre-pick gate naming what the warehouse still has to measure."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shipshape.config import ClientConfig
from shipshape.errors import PayloadInvalid, SignatureInvalid
from shipshape.models import Platform, SkuMaster
from shipshape.services import gates
from shipshape.services.catalog import ChangeKind, apply_product, ingest_catalog_webhook
from shipshape.storefronts.base import grams
from shipshape.storefronts.shopify import shopify_adapter
from shipshape_local.catalog import CatalogFileInvalid, import_catalog
from tests.builders import received_order
from tests.fakes import FixedSecrets, InMemoryInventory, SettableClock
from tests.helpers import load_event, sign_shopify, webhook_delivery

SHOP = "acme-outdoors.myshopify.com"
SECRET = b"dev-only-acme-shopify-webhook-secret"
T0 = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)


@pytest.fixture
def inventory() -> InMemoryInventory:
    return InMemoryInventory(threading.Lock())


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(T0)


def _product(**changes: Any) -> dict[str, Any]:
    product = json.loads(load_event("real/catalog/shopify-product-ipod-touch.json"))
    variant = {**product["variants"][0], **changes.pop("variant", {})}
    return {**product, "variants": [variant], **changes}


def _delivery(topic: str, payload: dict[str, Any], secret: bytes = SECRET) -> Any:
    body = json.dumps(payload).encode()
    return webhook_delivery(
        {"X-Shopify-Topic": topic, "X-Shopify-Shop-Domain": SHOP,
         "X-Shopify-Hmac-Sha256": sign_shopify(body, secret)},
        body, T0,
    )  # fmt: skip


def _webhook(
    acme: ClientConfig, inventory: InMemoryInventory, clock: SettableClock, delivery: Any
) -> Any:
    return ingest_catalog_webhook(
        client=acme, platform=Platform.SHOPIFY, delivery=delivery,
        secrets=FixedSecrets({"shipshape/acme-outdoors/shopify-webhook": SECRET}),
        inventory=inventory, clock=clock,
    )  # fmt: skip


def test_the_real_shopify_product_becomes_a_sku_with_its_barcode_and_weight_in_grams(
    acme: ClientConfig, inventory: InMemoryInventory, clock: SettableClock
) -> None:
    # Given the REST Product resource of Shopify's reference (1.25 lb, barcode 1234_black)
    delivery = _delivery("products/create", _product())

    # When its products/create webhook, signed as Shopify signs, is ingested
    result = _webhook(acme, inventory, clock, delivery)

    # Then the SKU is in the master from the storefront alone: no dimensions yet
    assert [(c.sku, c.change) for c in result.changes] == [("IPOD2009BLACK", ChangeKind.CREATED)]
    master = inventory.skus("acme-outdoors", ["IPOD2009BLACK"])["IPOD2009BLACK"]
    assert (master.title, master.barcode, master.unit_weight_grams, master.active) == (
        "IPod Touch 8GB - Black", "1234_black", 567, True,
    )  # fmt: skip
    assert master.missing_for_fulfilment() == ["length_mm", "width_mm", "height_mm"]
    assert master.storefront is not None
    assert (master.storefront.product_id, master.storefront.variant_id) == (
        "921728736", "447654529",
    )  # fmt: skip


def test_a_product_webhook_with_a_wrong_signature_writes_nothing(
    acme: ClientConfig, inventory: InMemoryInventory, clock: SettableClock
) -> None:
    # Given a products/update signed with another secret
    delivery = _delivery("products/update", _product(), secret=b"not-the-shops-secret")

    # When it is ingested, then it is refused and the SKU master is untouched
    with pytest.raises(SignatureInvalid):
        _webhook(acme, inventory, clock, delivery)
    assert inventory.skus("acme-outdoors", ["IPOD2009BLACK"]) == {}


def test_a_newer_version_updates_an_older_or_repeated_one_changes_nothing(
    acme: ClientConfig, inventory: InMemoryInventory, clock: SettableClock
) -> None:
    # Given the product synced at 11:29:59
    _webhook(acme, inventory, clock, _delivery("products/create", _product()))

    # When the merchant changes the barcode and weight (a newer updated_at), then an older
    # version and the newer one again arrive late
    newer = _product(
        updated_at="2025-04-03T09:00:00-05:00",
        variant={"barcode": "0885909950805", "weight": 0.5, "weight_unit": "kg"},
    )
    updated = _webhook(acme, inventory, clock, _delivery("products/update", newer))
    late = _webhook(acme, inventory, clock, _delivery("products/update", _product()))
    again = _webhook(acme, inventory, clock, _delivery("products/update", newer))

    # Then the newer version is what the SKU master holds; the others were stale
    assert [(c.change, c.fields) for c in updated.changes] == [
        (ChangeKind.UPDATED, ["barcode", "unit_weight_grams"])
    ]
    assert [c.change for c in late.changes] == [ChangeKind.STALE]
    assert [c.change for c in again.changes] == [ChangeKind.UNCHANGED]
    master = inventory.skus("acme-outdoors", ["IPOD2009BLACK"])["IPOD2009BLACK"]
    assert (master.barcode, master.unit_weight_grams) == ("0885909950805", 500)


def test_a_deleted_product_makes_its_skus_inactive_and_keeps_them(
    acme: ClientConfig, inventory: InMemoryInventory, clock: SettableClock
) -> None:
    # Given the product synced
    _webhook(acme, inventory, clock, _delivery("products/create", _product()))

    # When products/delete arrives (the id alone), then a late products/update before it
    deleted = _webhook(acme, inventory, clock, _delivery("products/delete", {"id": 921728736}))
    late = _webhook(
        acme, inventory, clock,
        _delivery("products/update", _product(updated_at="2025-04-03T09:00:00-05:00")),
    )  # fmt: skip

    # Then the SKU is still there, inactive; the late update did not bring it back
    assert [(c.sku, c.change) for c in deleted.changes] == [
        ("IPOD2009BLACK", ChangeKind.INACTIVATED)
    ]
    assert [c.change for c in late.changes] == [ChangeKind.STALE]
    master = inventory.skus("acme-outdoors", ["IPOD2009BLACK"])["IPOD2009BLACK"]
    assert master.active is False


def test_warehouse_facts_stay_when_the_storefront_writes_and_merge_on_read(
    acme: ClientConfig, inventory: InMemoryInventory, clock: SettableClock
) -> None:
    # Given the warehouse measured the SKU (dimensions, lot tracking)
    inventory.put_sku(
        SkuMaster(
            client_id="acme-outdoors",
            sku="IPOD2009BLACK",
            title="warehouse name",
            lot_tracked=True,
            barcode="1234_black",
            unit_weight_grams=600,
            length_mm=120,
            width_mm=70,
            height_mm=10,
        )
    )

    # When the storefront's product arrives
    _webhook(acme, inventory, clock, _delivery("products/update", _product()))

    # Then title and weight are the storefront's, dimensions and lot tracking the warehouse's
    master = inventory.skus("acme-outdoors", ["IPOD2009BLACK"])["IPOD2009BLACK"]
    assert (master.title, master.unit_weight_grams, master.lot_tracked) == (
        "IPod Touch 8GB - Black", 567, True,
    )  # fmt: skip
    assert (master.length_mm, master.width_mm, master.height_mm) == (120, 70, 10)
    assert master.missing_for_fulfilment() == []


def test_pre_pick_stops_a_sku_without_dimensions_naming_them(
    acme: ClientConfig, inventory: InMemoryInventory, clock: SettableClock
) -> None:
    # Given a SKU known only from the storefront, and an order for it
    _webhook(acme, inventory, clock, _delivery("products/create", _product()))
    placed, _ = received_order(clock, "5600777")
    order = placed.model_copy(
        update={"lines": (placed.lines[0].model_copy(update={"sku": "IPOD2009BLACK"}),)}
    )
    skus = inventory.skus("acme-outdoors", ["IPOD2009BLACK"])

    # When the pre-pick gate checks it
    verdict = gates.pre_pick(order, skus, acme, T0.date())

    # Then it fails, naming the missing dimensions and who sends them
    assert verdict.failures == [
        "IPOD2009BLACK has no length_mm, width_mm, height_mm in the SKU master; the warehouse "
        "sends them with sku_updated, then retry"
    ]


@pytest.mark.parametrize(
    ("weight", "unit", "expected"),
    [
        ("1.25", "lb", 567),
        ("0.5", "kg", 500),
        ("12", "oz", 340),
        ("250", "g", 250),
        ("0", "g", None),
    ],
)
def test_weights_convert_to_whole_grams(weight: str, unit: str, expected: int | None) -> None:
    # When a platform's weight and unit are read, then they are whole grams (0: no weight)
    assert grams(weight, unit, "weight") == expected


def test_an_unknown_weight_unit_is_refused_naming_it(acme: ClientConfig) -> None:
    # When a weight comes in stones, then it is refused naming the field and the unit
    with pytest.raises(PayloadInvalid, match=r"variants\.0: weight unit 'st'"):
        shopify_adapter.normalize_product_resource(
            json.dumps(_product(variant={"weight_unit": "st"})).encode(),
            acme.stores_on(Platform.SHOPIFY)[0],
        )


CSV = """sku,title,barcode,weight,weight_unit,active
TENT-2P-GRN,Ridgeline 2P tent (2027),004259346641,2.2,kg,true
STOVE-CANISTER,Canister stove,0001112223334,300,g,true
"""


def test_csv_dry_run_says_what_would_change_and_writes_nothing(
    repo: Any, clock: SettableClock
) -> None:
    # Given the seeded SKU master (the tent weighs 2100 g there)
    inventory = repo.inventory

    # When the CSV is imported as a dry run, then for real
    planned = import_catalog(
        CSV, client_id="acme-outdoors", inventory=inventory, clock=clock, dry_run=True
    )
    untouched = inventory.skus("acme-outdoors", ["TENT-2P-GRN", "STOVE-CANISTER"])
    clock.advance(timedelta(seconds=1))
    applied = import_catalog(
        CSV, client_id="acme-outdoors", inventory=inventory, clock=clock, dry_run=False
    )

    # Then the dry run named the changes and wrote nothing; the import made them
    assert [(c.sku, c.change, c.fields) for c in planned.changes] == [
        ("TENT-2P-GRN", ChangeKind.UPDATED, ["title", "unit_weight_grams"]),
        ("STOVE-CANISTER", ChangeKind.CREATED, ["title", "barcode", "unit_weight_grams", "active"]),
    ]
    assert planned.changes[0].before["unit_weight_grams"] == 2100
    assert planned.changes[0].after["unit_weight_grams"] == 2200
    assert list(untouched) == ["TENT-2P-GRN"]
    assert untouched["TENT-2P-GRN"].unit_weight_grams == 2100
    assert [c.change for c in applied.changes] == [ChangeKind.UPDATED, ChangeKind.CREATED]
    after = inventory.skus("acme-outdoors", ["TENT-2P-GRN", "STOVE-CANISTER"])
    assert after["TENT-2P-GRN"].unit_weight_grams == 2200
    assert after["TENT-2P-GRN"].length_mm == 550  # the warehouse's dimensions stay
    assert after["STOVE-CANISTER"].barcode == "0001112223334"


def test_a_csv_with_a_bad_row_is_refused_whole(repo: Any, clock: SettableClock) -> None:
    # Given a CSV whose second data row has a weight in an unknown unit
    text = CSV.replace("300,g", "300,stone")

    # When it is imported, then every bad row is named and nothing is written
    with pytest.raises(CatalogFileInvalid) as refused:
        import_catalog(
            text, client_id="acme-outdoors", inventory=repo.inventory, clock=clock, dry_run=False
        )
    assert refused.value.problems == [
        "row 3: weight: weight unit 'stone' is not one of g, kg, oz, lb, lbs"
    ]
    assert repo.inventory.skus("acme-outdoors", ["TENT-2P-GRN"])["TENT-2P-GRN"].title == (
        "Ridgeline 2P tent, green"
    )


def test_apply_product_is_idempotent_per_version(
    acme: ClientConfig, inventory: InMemoryInventory, clock: SettableClock
) -> None:
    # Given a product version applied once
    product = shopify_adapter.normalize_product_resource(
        load_event("real/catalog/shopify-product-ipod-touch.json"),
        acme.stores_on(Platform.SHOPIFY)[0],
    )
    apply_product(client_id="acme-outdoors", product=product, inventory=inventory, clock=clock)

    # When the same version is applied again, then nothing is written: it is unchanged
    clock.advance(timedelta(minutes=1))
    again = apply_product(
        client_id="acme-outdoors", product=product, inventory=inventory, clock=clock
    )
    assert [c.change for c in again] == [ChangeKind.UNCHANGED]
    master = inventory.skus("acme-outdoors", ["IPOD2009BLACK"])["IPOD2009BLACK"]
    assert master.storefront is not None and master.storefront.synced_at == T0
