"""The inventory store: SKU masters, stock lots and backorder marks. Reservations and releases
are not written here: they are side writes of the order change that causes them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from shipshape.adapters.dynamodb import keys
from shipshape.adapters.dynamodb.items import stock_lot
from shipshape.adapters.dynamodb.keys import n, s
from shipshape.adapters.dynamodb.table import Table
from shipshape.models import BackorderMark, CatalogEntry, SkuMaster, StockLot, merged_master
from shipshape.observability import logger
from shipshape.ports import InventoryRepository


class _ReceiptRecorded(Exception):
    """The receipt's record exists: its units were added when it was first processed."""


class _StaleCatalog(Exception):
    """The SKU holds this source's entry at this version or a newer one already."""


class DynamoDBInventory(InventoryRepository):
    def __init__(self, table: Table) -> None:
        self._table = table

    def skus(self, client_id: str, skus: Sequence[str]) -> dict[str, SkuMaster]:
        wanted = list(dict.fromkeys(skus))
        found: dict[str, SkuMaster] = {}
        for item in self._table.batch_get(
            [keys.sku_key(client_id, sku) for sku in wanted], ConsistentRead=True
        ):
            sku = item["sk"]["S"]
            warehouse = SkuMaster.model_validate_json(item["doc"]["S"]) if "doc" in item else None
            catalog = (
                CatalogEntry.model_validate_json(item["catalog_doc"]["S"])
                if "catalog_doc" in item
                else None
            )
            master = merged_master(client_id, sku, warehouse, catalog)
            if master is not None:
                found[sku] = master
        return found

    def put_sku(self, sku: SkuMaster) -> None:
        # Only the warehouse's attributes: the storefront's entry on the same item stays.
        self._table.update(
            keys.sku_key(sku.client_id, sku.sku),
            UpdateExpression="SET entity = :entity, doc = :doc",
            ExpressionAttributeValues={
                ":entity": s("sku"),
                ":doc": s(sku.model_copy(update={"storefront": None}).model_dump_json()),
            },
        )

    def put_catalog(self, entry: CatalogEntry) -> bool:
        try:
            self._table.update(
                keys.sku_key(entry.client_id, entry.sku),
                UpdateExpression=(
                    "SET entity = :entity, catalog_doc = :catalog, catalog_source = :source, "
                    "catalog_version = :version"
                ),
                # Another source's entry (a CSV import, then the storefront) is replaced; the
                # same source's only by a newer version: a redelivery or a late, older
                # webhook writes nothing.
                ConditionExpression=(
                    "attribute_not_exists(catalog_version) OR catalog_source <> :source "
                    "OR catalog_version < :version"
                ),
                ExpressionAttributeValues={
                    ":entity": s("sku"),
                    ":catalog": s(entry.model_dump_json()),
                    ":source": s(entry.source),
                    ":version": n(entry.version),
                },
                on_condition=_StaleCatalog(),
            )
        except _StaleCatalog:
            return False
        return True

    def product_skus(self, client_id: str, source: str, store: str, product_id: str) -> list[str]:
        item = self._table.get(
            keys.product_key(client_id, source, store, product_id), ConsistentRead=True
        )
        return sorted(item["skus"]["SS"]) if item and "skus" in item else []

    def remember_product(
        self, client_id: str, source: str, store: str, product_id: str, skus: Sequence[str]
    ) -> None:
        if not skus:
            return
        self._table.update(
            keys.product_key(client_id, source, store, product_id),
            UpdateExpression="SET entity = :entity ADD skus :skus",
            ExpressionAttributeValues={":entity": s("product"), ":skus": {"SS": sorted(set(skus))}},
        )

    def stock_of(self, client_id: str, sku: str) -> list[StockLot]:
        page = self._table.query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": s(keys.stock_partition(client_id, sku))},
            ConsistentRead=True,
        )
        return [stock_lot(client_id, sku, item) for item in page["Items"]]

    def receive_stock(
        self,
        client_id: str,
        sku: str,
        warehouse: str,
        lot: str,
        quantity: int,
        bin: str,
        expires_on: date | None,
        receipt: str | None = None,
    ) -> StockLot:
        sets = ["bin = :bin", "entity = :entity"]
        values: dict[str, Any] = {
            ":q": n(quantity),
            ":zero": n(0),
            ":bin": s(bin),
            ":entity": s("stock"),
        }
        if expires_on is not None:
            sets.append("expires_on = :exp")
            values[":exp"] = s(expires_on.isoformat())
        if receipt is not None:
            return self._receive_once(client_id, sku, warehouse, lot, receipt, sets, values)
        updated = self._table.update(
            keys.stock_key(client_id, sku, warehouse, lot),
            UpdateExpression=(
                "SET " + ", ".join(sets) + ", reserved = if_not_exists(reserved, :zero) "
                "ADD available :q"
            ),
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
        return stock_lot(client_id, sku, updated)

    def _receive_once(
        self,
        client_id: str,
        sku: str,
        warehouse: str,
        lot: str,
        receipt: str,
        sets: list[str],
        values: dict[str, Any],
    ) -> StockLot:
        """The units and a record of the receipt in one transaction, the record written only
        if absent: a receipt processed again (its first answer lost) adds nothing."""
        table = self._table.name
        try:
            self._table.transact(
                [
                    {
                        "Put": {
                            "TableName": table,
                            "Item": {
                                **keys.receipt_key(client_id, receipt),
                                "entity": s("receipt"),
                                "sku": s(sku),
                                "lot": s(f"{warehouse}#{lot}"),
                                "quantity": values[":q"],
                            },
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": table,
                            "Key": keys.stock_key(client_id, sku, warehouse, lot),
                            "UpdateExpression": (
                                "SET " + ", ".join(sets) + ", reserved = "
                                "if_not_exists(reserved, :zero) ADD available :q"
                            ),
                            "ExpressionAttributeValues": values,
                        }
                    },
                ],
                # Only the receipt's record is written under a condition.
                _ReceiptRecorded(),
            )
        except _ReceiptRecorded:
            logger.info("stock receipt already recorded", extra={"client_id": client_id})
        found = [
            s for s in self.stock_of(client_id, sku) if (s.warehouse, s.lot) == (warehouse, lot)
        ]
        return found[0]

    def backorders_of(self, client_id: str, sku: str, limit: int) -> list[BackorderMark]:
        page = self._table.query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": s(keys.backorder_partition(client_id, sku))},
            ConsistentRead=True,
            Limit=limit,
        )
        return [BackorderMark.model_validate_json(i["doc"]["S"]) for i in page["Items"]]
