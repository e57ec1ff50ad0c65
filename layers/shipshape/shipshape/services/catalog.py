"""Catalog sync: the storefront's products into the SKU master.

The SKU master is fed from the storefront (product webhooks, a paged pull of the product list,
or a CSV import for a catalog kept elsewhere). Only the storefront's facts are written here:
title, barcode, weight and whether it is on sale, with the product's and variant's ids and the
version they reflect (``CatalogEntry``). The warehouse's facts (lot tracking, dimensions, bins
and lots of stock) stay on the warehouse route; reads merge both.

One product version is applied as its variants: each SKU's entry is created, updated or made
inactive. A deleted product, and a variant that left a product, make their SKUs inactive and
never erase them (orders and stock reference them). Each entry is written only when it is
newer than what the SKU holds from the same source (``InventoryRepository.put_catalog``), so a
redelivered or late, older version changes nothing. What changed is logged (SKUs and field
names: a catalog carries no personal data) and returned.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from shipshape.base import Model
from shipshape.config import ClientConfig
from shipshape.errors import UnsupportedPlatform
from shipshape.models import (
    CatalogEntry,
    Platform,
    SkuMaster,
    StorefrontProduct,
    StorefrontVariant,
)
from shipshape.observability import logger
from shipshape.ports import Clock, InventoryRepository, SecretStore, StorefrontApi
from shipshape.services.ingest import verified_store
from shipshape.storefronts import adapter_for
from shipshape.storefronts.base import WebhookDelivery

# The platforms whose catalog is read: products webhooks (Shopify, WooCommerce) and the pull.
CATALOG_PLATFORMS = (Platform.SHOPIFY, Platform.WOOCOMMERCE, Platform.BIGCOMMERCE)
# What a product's SKU master entry says, compared to tell what changed.
COMPARED = ("title", "barcode", "unit_weight_grams", "active")


class ChangeKind(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    INACTIVATED = "inactivated"
    UNCHANGED = "unchanged"
    STALE = "stale"


class CatalogChange(Model):
    """What one product version did (or, in a dry run, would do) to one SKU."""

    sku: str
    change: ChangeKind
    fields: list[str]
    before: dict[str, str | int | bool | None] = {}
    after: dict[str, str | int | bool | None] = {}


@dataclass(frozen=True)
class _Planned:
    entry: CatalogEntry | None  # None: nothing to write (stale)
    change: CatalogChange


def _facts(master: SkuMaster | CatalogEntry | None) -> dict[str, str | int | bool | None]:
    if master is None:
        return {}
    return {name: getattr(master, name) for name in COMPARED}


def plan_product(
    client_id: str, product: StorefrontProduct, inventory: InventoryRepository, now: datetime
) -> list[_Planned]:
    """What applying ``product`` would write, SKU by SKU, against the SKU master as it is."""
    known = inventory.product_skus(client_id, product.source, product.store, product.product_id)
    variants: dict[str, StorefrontVariant] = {}
    for variant in product.variants:
        variants.setdefault(variant.sku, variant)  # a SKU twice in one product: the first
    if product.deleted:
        variants = {}
    masters = inventory.skus(client_id, [*variants, *known])
    planned: list[_Planned] = []
    for sku, variant in variants.items():
        master = masters.get(sku)
        entry = CatalogEntry(
            client_id=client_id, sku=sku, title=variant.title, barcode=variant.barcode,
            unit_weight_grams=variant.unit_weight_grams, active=variant.active,
            source=product.source, store=product.store, product_id=product.product_id,
            variant_id=variant.variant_id, version=product.version, synced_at=now,
        )  # fmt: skip
        planned.append(_plan(master, entry, ChangeKind.CREATED))
    for sku in known:
        master = masters.get(sku)
        held = master.storefront if master is not None else None
        if sku in variants or held is None:
            continue
        if (held.source, held.store, held.product_id) != (
            product.source, product.store, product.product_id,
        ):  # fmt: skip
            continue  # the SKU moved to another product since: that one speaks for it
        gone = held.model_copy(update={"active": False, "version": product.version,
                                       "synced_at": now})  # fmt: skip
        planned.append(_plan(master, gone, ChangeKind.INACTIVATED))
    return planned


def _changed(
    name: str, before: dict[str, str | int | bool | None], after: dict[str, str | int | bool | None]
) -> bool:
    if name == "active":
        return not before or before["active"] != after["active"]
    return after[name] not in (None, "") and before.get(name) != after[name]


def _plan(master: SkuMaster | None, entry: CatalogEntry, new: ChangeKind) -> _Planned:
    """The change ``entry`` makes: compared with the storefront's entry the SKU holds, or,
    for a SKU only the warehouse knew, with the warehouse's values (a value the storefront
    leaves blank is not a change: the warehouse's stays)."""
    held = master.storefront if master is not None else None
    if held is not None and held.source == entry.source and held.version >= entry.version:
        # This version again (a redelivery, a pull that finds nothing new): unchanged; an
        # older one (late): stale. Neither is written.
        kind = ChangeKind.UNCHANGED if held.version == entry.version else ChangeKind.STALE
        return _Planned(None, CatalogChange(sku=entry.sku, change=kind, fields=[]))
    before = _facts(held if held is not None else master)
    after = _facts(entry)
    fields = [name for name in COMPARED if _changed(name, before, after)]
    if master is None:
        kind = ChangeKind.CREATED
    elif new is ChangeKind.INACTIVATED:
        kind = ChangeKind.INACTIVATED if "active" in fields else ChangeKind.UNCHANGED
    elif fields:
        kind = (
            ChangeKind.INACTIVATED
            if fields == ["active"] and not entry.active
            else (ChangeKind.UPDATED)
        )
    else:
        kind = ChangeKind.UNCHANGED
    return _Planned(
        entry,
        CatalogChange(
            sku=entry.sku,
            change=kind,
            fields=fields,
            before={k: before.get(k) for k in fields},
            after={k: after.get(k) for k in fields},
        ),
    )


def apply_product(
    *,
    client_id: str,
    product: StorefrontProduct,
    inventory: InventoryRepository,
    clock: Clock,
    dry_run: bool = False,
    via: str = "webhook",
) -> list[CatalogChange]:
    """Apply one product version to the SKU master (``dry_run``: only say what it would do);
    what changed, SKU by SKU."""
    planned = plan_product(client_id, product, inventory, clock.now())
    changes: list[CatalogChange] = []
    for step in planned:
        change = step.change
        if not dry_run and step.entry is not None and not inventory.put_catalog(step.entry):
            # Another writer stored a newer version between the read and this write.
            change = CatalogChange(sku=change.sku, change=ChangeKind.STALE, fields=[])
        changes.append(change)
    if not dry_run and not product.deleted:
        inventory.remember_product(
            client_id, product.source, product.store, product.product_id,
            [v.sku for v in product.variants],
        )  # fmt: skip
    counts: dict[str, int] = {}
    for change in changes:
        counts[change.change.value] = counts.get(change.change.value, 0) + 1
    logger.info(
        "catalog product applied" if not dry_run else "catalog product planned",
        extra={
            "client_id": client_id,
            "source": product.source,
            "product_id": product.product_id,
            "via": via,
            "deleted": product.deleted,
            "changes": counts,
            "changed_skus": [c.sku for c in changes if c.change is not ChangeKind.UNCHANGED],
            "variants_without_sku": product.variants_without_sku,
        },
    )
    return changes


# --- the webhook route --------------------------------------------------------------------


class CatalogWebhookResult(Model):
    product_id: str
    deleted: bool
    changes: list[CatalogChange]


def ingest_catalog_webhook(
    *,
    client: ClientConfig,
    platform: Platform,
    delivery: WebhookDelivery,
    secrets: SecretStore,
    inventory: InventoryRepository,
    clock: Clock,
) -> CatalogWebhookResult:
    """A product webhook: the store and signature checked exactly as for order webhooks
    (``verified_store``), then the product applied to the SKU master."""
    adapter = adapter_for(platform)
    store = verified_store(client, platform, delivery, secrets)
    product = adapter.normalize_product(delivery, store)
    changes = apply_product(
        client_id=client.client_id, product=product, inventory=inventory, clock=clock
    )
    return CatalogWebhookResult(
        product_id=product.product_id, deleted=product.deleted, changes=changes
    )


# --- the pull -----------------------------------------------------------------------------


class CatalogSyncResult(Model):
    client_id: str
    store: str
    products: int
    changes: list[CatalogChange]

    def count(self, kind: ChangeKind) -> int:
        return sum(1 for c in self.changes if c.change is kind)


def sync_catalog(
    *,
    client: ClientConfig,
    storefronts: StorefrontApi,
    inventory: InventoryRepository,
    clock: Clock,
    platforms: Sequence[Platform] = CATALOG_PLATFORMS,
) -> list[CatalogSyncResult]:
    """Read every product of each of the client's stores on ``platforms`` from its API
    (paged: Shopify REST ``products.json`` by its Link header, WooCommerce ``products`` and
    each variable product's ``variations``, BigCommerce v3 ``catalog/products`` with their
    variants) and apply each to the SKU master. Products the store no longer lists are not
    guessed at: a deletion arrives by its webhook."""
    results = []
    for store in client.stores:
        if store.platform not in platforms:
            continue
        adapter = adapter_for(store.platform)
        changes: list[CatalogChange] = []
        resources = storefronts.products(store)
        for resource in resources:
            product = adapter.normalize_product_resource(resource, store)
            changes += apply_product(
                client_id=client.client_id, product=product, inventory=inventory,
                clock=clock, via="pull",
            )  # fmt: skip
        results.append(
            CatalogSyncResult(
                client_id=client.client_id,
                store=store.store,
                products=len(resources),
                changes=changes,
            )
        )
    if not results:
        raise UnsupportedPlatform(
            f"client {client.client_id} has no store whose catalog Shipshape can read "
            f"({', '.join(p.value for p in platforms)})"
        )
    return results
