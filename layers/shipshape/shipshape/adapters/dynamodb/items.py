"""Entities as stored items and back: the mapping between the domain models and DynamoDB.

Each item carries its model as JSON in ``doc`` (the order compressed) plus the attributes that
conditions, indexes and the stream publisher read. Keys come from ``keys``.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Mapping
from datetime import date
from typing import Any

from shipshape.adapters.dynamodb import keys
from shipshape.adapters.dynamodb.keys import n, s
from shipshape.models import (
    AuditEvent,
    BackorderMark,
    Document,
    Order,
    OrderException,
    OrderStatus,
    RuleChange,
    SideWrite,
    StockChange,
    StockLot,
)

_PICKING = frozenset({OrderStatus.PICKER_ASSIGNED, OrderStatus.AWAITING_PICK})


def order_doc(order: Order) -> dict[str, bytes]:
    """The order as stored: its JSON, zlib-compressed, in a binary attribute. An order item
    carries the whole order (lines, addresses, QA results, label), about 3.5 KB of JSON, and
    is written in a transaction at every step; compressed to about 1.4 KB it costs half the
    write units (docs/PERFORMANCE.md). Items written as JSON text are read too."""
    return {"B": zlib.compress(order.model_dump_json(exclude_none=True).encode(), 6)}


def order_from(doc: Mapping[str, Any]) -> Order:
    """The order of a stored ``doc`` attribute: compressed binary (bytes from the SDK, base64
    text in DynamoDB JSON such as exports), or JSON text as first written."""
    if "S" in doc:
        return Order.model_validate_json(doc["S"])
    raw = doc["B"]
    return Order.model_validate_json(
        zlib.decompress(base64.b64decode(raw) if isinstance(raw, str) else raw)
    )


def order_item(order: Order) -> dict[str, Any]:
    item: dict[str, Any] = {
        **keys.order_key(order.order_id),
        "entity": s("order"),
        "doc": order_doc(order),
        "client_id": s(order.client_id),
        "status": s(order.status.value),
        "owner": s(order.owner),
        "storefront_order_id": s(order.storefront_order_id),
        "version": n(order.version),
        "audit_seq": n(order.audit_seq),
    }
    if order.pending_start:
        accepted = order.status_timestamps.get(OrderStatus.ACCEPTED, order.received_at)
        item.update(keys.pending_start_index(accepted, order.order_id))
    if order.picker and order.status in _PICKING:
        item["gsi5pk"] = s(keys.picks_partition(order.client_id, order.picker))
    return item


def exception_item(exception: OrderException) -> dict[str, Any]:
    item: dict[str, Any] = {
        **keys.exception_key(exception.exception_id),
        "entity": s("exception"),
        "doc": s(exception.model_dump_json(exclude_none=True)),
        "client_id": s(exception.client_id),
        "type": s(exception.type.value),
        "status": s(exception.status.value),
        "owner": s(exception.owner),
        "version": n(exception.version),
        "gsi3pk": s(keys.client_exceptions_partition(exception.client_id)),
        "gsi3sk": s(f"{keys.utc(exception.opened_at)}#{exception.exception_id}"),
    }
    if exception.is_open:
        item.update(keys.open_exception_index(exception.due_at, exception.exception_id))
        item["gsi4pk"] = s(keys.owner_partition(exception.client_id, exception.owner))
    return item


def audit_item(event: AuditEvent, client_id: str) -> dict[str, Any]:
    return {
        **keys.audit_index(client_id, event.at, event.order_id, event.seq),
        **keys.audit_key(event.order_id, event.seq),
        "entity": s("audit"),
        "action": s(event.action),
        "at": s(event.at.isoformat()),
        "doc": s(event.model_dump_json(exclude_none=True)),
    }


def rule_item(change: RuleChange) -> dict[str, Any]:
    return {
        **keys.rule_version_key(change.client_id, change.version),
        "entity": s("rule_version"),
        "status": s(change.status.value),
        "doc": s(change.model_dump_json()),
    }


def backorder_key(mark: BackorderMark) -> keys.Key:
    return keys.backorder_key(mark.client_id, mark.sku, mark.since, mark.order_id)


def side_write(table: str, write: SideWrite) -> dict[str, Any]:
    """One transaction item for a stock change, a backorder mark or a document."""
    if isinstance(write, StockChange):
        conditions, values = (
            ["attribute_exists(pk)"],
            {
                ":a": n(write.available),
                ":r": n(write.reserved),
            },
        )
        if write.available < 0:
            conditions.append("available >= :need_a")
            values[":need_a"] = n(-write.available)
        if write.reserved < 0:
            conditions.append("reserved >= :need_r")
            values[":need_r"] = n(-write.reserved)
        return {
            "Update": {
                "TableName": table,
                "Key": keys.stock_key(write.client_id, write.sku, write.warehouse, write.lot),
                "UpdateExpression": "ADD available :a, reserved :r",
                "ConditionExpression": " AND ".join(conditions),
                "ExpressionAttributeValues": values,
            }
        }
    if isinstance(write, BackorderMark):
        if write.remove:
            return {"Delete": {"TableName": table, "Key": backorder_key(write)}}
        return {
            "Put": {
                "TableName": table,
                "Item": {
                    **backorder_key(write),
                    "entity": s("backorder"),
                    "doc": s(write.model_dump_json()),
                },
            }
        }
    return {
        "Put": {
            "TableName": table,
            "Item": {
                **keys.document_key(write.order_id, write.kind, write.number),
                "entity": s("document"),
                "doc": s(write.model_dump_json()),
            },
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def stock_lot(client_id: str, sku: str, item: dict[str, Any]) -> StockLot:
    """A stock lot of ``sku`` from its item (the partition named the client and SKU)."""
    warehouse, _, lot = item["sk"]["S"].partition("#")
    expires = item.get("expires_on", {}).get("S")
    return StockLot(
        client_id=client_id,
        sku=sku,
        warehouse=warehouse,
        lot=lot,
        expires_on=date.fromisoformat(expires) if expires else None,
        bin=item.get("bin", {}).get("S", ""),
        available=int(item.get("available", {}).get("N", "0")),
        reserved=int(item.get("reserved", {}).get("N", "0")),
    )


def document_of(item: Mapping[str, Any]) -> Document:
    return Document.model_validate_json(item["doc"]["S"])
