"""AWS behaviour: transactions that touch the same item at the same time collide, and DynamoDB
cancels one with ``TransactionConflict`` on that item (see ``shipshape_local.contention`` for
when the embedded stack counts two transactions as simultaneous).

moto applies one request at a time, so its transactions never collide. The check is made
inside the request lock, before moto applies anything: a cancelled transaction writes
nothing, and its ``CancellationReasons`` are AWS's (``None`` for every other item).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shipshape_local.contention import Contention
from shipshape_local.patches.guard import Patcher

WRITTEN_FOR = "==5.2.5"


def _items(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    items = []
    for entry in transact_items:
        _, op = next(iter(entry.items()))
        table_name = str(op.get("TableName"))
        key = op.get("Key")
        if key is None and "Item" in op:
            table = backend.tables.get(table_name)
            attrs = op["Item"]
            names = [table.hash_key_attr, table.range_key_attr] if table is not None else []
            key = {name: attrs[name] for name in names if name and name in attrs}
        items.append((table_name, str(sorted((key or {}).items()))))
    return items


def install(patcher: Patcher, *, contention: Callable[[], Contention | None]) -> None:
    from moto.dynamodb.exceptions import TransactionCanceledException
    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.transact_write_items

    def contended(self: Any, transact_items: list[dict[str, Any]]) -> None:
        model = contention()
        if model is None:
            return original(self, transact_items)
        items = _items(self, transact_items)
        at = model.conflict_at(items)
        if at is not None:
            reasons: list[tuple[str | None, str | None, None]] = [(None, None, None)] * len(items)
            reasons[at] = ("TransactionConflict", "Transaction is ongoing for the item", None)
            raise TransactionCanceledException(reasons)
        original(self, transact_items)
        model.written(
            [item for item, entry in zip(items, transact_items, strict=True)
             if "ConditionCheck" not in entry]
        )  # fmt: skip
        return None

    patcher.replace(DynamoDBBackend, "transact_write_items", contended)
