"""moto gap: a transaction's cost grows with the tables it touches, not with its items.

moto backs up every table a transaction touches with a deep copy of the whole table, so each
transaction costs time in proportion to the table: a pilot of hundreds of orders (thousands of
audit items) slows to a crawl. The same rollback is kept (a failed ``TransactWriteItems``
changes nothing, as on AWS) by backing up only the items the transaction names, and putting
those back if it fails. Requests are already serialized (see ``atomic_requests``), so nothing
else changes the items meanwhile.
"""

from __future__ import annotations

from typing import Any

from shipshape_local.patches.guard import Patcher

WRITTEN_FOR = "==5.2.5"


def install(patcher: Patcher) -> None:
    import copy

    from moto.dynamodb import models
    from moto.dynamodb.models.dynamo_type import DynamoType

    class _TablesStay:
        """The ``copy`` module, except that a table is not copied (its items are, below)."""

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            if isinstance(value, models.Table):  # type: ignore[attr-defined]
                return value
            return copy.deepcopy(value, memo)

    patcher.replace(models, "copy", _TablesStay())
    original = models.DynamoDBBackend.transact_write_items

    def itemwise(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved: list[tuple[Any, DynamoType, DynamoType | None, Any]] = []
        for entry in transact_items:
            _, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName"))
            key = op.get("Key") or op.get("Item")
            if table is None or not key or table.hash_key_attr not in key:
                continue
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = (
                DynamoType(key[table.range_key_attr])
                if table.range_key_attr and table.range_key_attr in key
                else None
            )
            found = table.items.get(hash_key, {})
            item = found.get(range_key) if table.has_range_key else found or None
            saved.append((table, hash_key, range_key, copy.deepcopy(item) if item else None))
        try:
            original(self, transact_items)
        except Exception:
            for table, hash_key, range_key, item in reversed(saved):
                if table.has_range_key:
                    bucket = table.items[hash_key]
                    if item is None:
                        bucket.pop(range_key, None)
                    else:
                        bucket[range_key] = item
                elif item is None:
                    table.items.pop(hash_key, None)
                else:
                    table.items[hash_key] = item
            raise

    patcher.replace(models.DynamoDBBackend, "transact_write_items", itemwise)
