"""AWS behaviour: a Query reads one partition (and is charged for the items it reads).

moto answers every Query by sorting every item of the table (``Table.all_items``) and then
testing each against the key condition, so one query costs O(n log n) in the table's size and
a pilot's cost grows with the square of its orders. DynamoDB reads one partition. Hand the
query only the items whose partition key matches; moto still sorts, pages, filters and
projects them itself, so the answer is the same. The items it reads are charged to whoever
asked (see ``metering.metered_query``).
"""

from __future__ import annotations

import inspect
import threading
from typing import Any

from shipshape_local import metering
from shipshape_local.metering import Meter
from shipshape_local.patches.guard import Patcher

WRITTEN_FOR = "==5.2.5"


def install(patcher: Patcher, *, meter: Meter) -> None:
    from moto.dynamodb.models.table import Table

    original_query = Table.query
    original_all_items = Table.all_items
    signature = inspect.signature(original_query)
    narrowed = threading.local()

    def same(value: Any, expected: Any) -> bool:
        if value is None:
            return False
        if expected.type == "N":
            return bool(value == expected)
        return bool(value.type == expected.type and value.value == expected.value)

    def candidates(table: Any, call: inspect.BoundArguments) -> list[Any]:
        arguments = call.arguments
        if not arguments.get("index_name"):
            found = table.items.get(arguments["hash_key"])
            if found is None:
                return []
            return list(found.values()) if table.range_key_attr else [found]
        conditions = arguments.get("hash_key_conditions") or []
        if not conditions:
            return original_all_items(table)
        rows = (
            row
            for bucket in table.items.values()
            for row in (bucket.values() if table.range_key_attr else (bucket,))
        )
        return [
            row
            for row in rows
            if all(same(row.attrs.get(name), value) for name, value in conditions)
        ]

    def all_items(self: Any) -> list[Any]:
        rows = getattr(narrowed, "rows", None)
        return rows if rows is not None else original_all_items(self)

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = signature.bind(self, *args, **kwargs)
        narrowed.rows = candidates(self, call)
        try:
            return metering.metered_query(meter, original_query, call)
        finally:
            narrowed.rows = None

    patcher.replace(Table, "query", query)
    patcher.replace(Table, "all_items", all_items)
