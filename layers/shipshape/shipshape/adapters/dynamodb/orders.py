"""The order store: an order with its exceptions, audit events and documents, in one partition,
changed only in transactions guarded by the order's audit sequence."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from shipshape.adapters.dynamodb import keys
from shipshape.adapters.dynamodb.items import (
    audit_item,
    document_of,
    exception_item,
    order_from,
    order_item,
    side_write,
)
from shipshape.adapters.dynamodb.keys import n, s
from shipshape.adapters.dynamodb.table import Table
from shipshape.errors import ConcurrentUpdate
from shipshape.models import AuditEvent, Document, Order, OrderException, SideWrite
from shipshape.ports import AlreadyExists, OrderRepository


def _exception_of(item: dict[str, Any]) -> OrderException:
    return OrderException.model_validate_json(item["doc"]["S"])


class DynamoDBOrderStore(OrderRepository):
    def __init__(self, table: Table) -> None:
        self._table = table

    # --- the order and its trail ------------------------------------------------------------

    def get(self, order_id: str) -> Order | None:
        item = self._table.get(
            keys.order_key(order_id), ConsistentRead=True, ProjectionExpression="doc"
        )
        return order_from(item["doc"]) if item else None

    def create(self, order: Order, event: AuditEvent) -> None:
        self._transact(
            order,
            event,
            condition="attribute_not_exists(pk)",
            values=None,
            on_conflict=AlreadyExists(f"order {order.order_id} exists"),
        )

    def apply(
        self,
        order: Order,
        event: AuditEvent,
        expected_seq: int,
        writes: Sequence[SideWrite] = (),
    ) -> None:
        self._transact(
            order,
            event,
            condition="audit_seq = :expected",
            values={":expected": n(expected_seq)},
            on_conflict=ConcurrentUpdate(
                f"order {order.order_id} or its stock changed since audit event {expected_seq}"
            ),
            writes=writes,
        )

    def audit_trail(self, order_id: str) -> list[AuditEvent]:
        return [
            AuditEvent.model_validate_json(i["doc"]["S"])
            for i in self._table.query_all(
                KeyConditionExpression="pk = :pk AND begins_with(sk, :audit)",
                ExpressionAttributeValues={
                    ":pk": s(keys.order_partition(order_id)),
                    ":audit": s(keys.AUDIT),
                },
                ProjectionExpression="doc",
                ConsistentRead=True,
            )
        ]

    def document(self, order_id: str, kind: str, number: int) -> Document | None:
        item = self._table.get(
            keys.document_key(order_id, kind, number), ProjectionExpression="doc"
        )
        return document_of(item) if item else None

    def pending_starts(self, accepted_before: datetime, limit: int) -> list[str]:
        page = self._table.query(
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :p AND gsi1sk < :before",
            ExpressionAttributeValues={
                ":p": s(keys.PENDING_START),
                ":before": s(keys.utc(accepted_before)),
            },
            Limit=limit,
        )
        return [keys.order_id_of(item["pk"]["S"]) for item in page["Items"]]

    def open_picks(self, client_id: str, picker: str) -> int:
        page = self._table.query(
            IndexName="gsi5",
            KeyConditionExpression="gsi5pk = :p",
            ExpressionAttributeValues={":p": s(keys.picks_partition(client_id, picker))},
            Select="COUNT",
        )
        return int(page["Count"])

    # --- its exceptions ---------------------------------------------------------------------

    def get_exception(self, exception_id: str) -> OrderException | None:
        item = self._table.get(
            keys.exception_key(exception_id), ConsistentRead=True, ProjectionExpression="doc"
        )
        return _exception_of(item) if item else None

    def write_exception(
        self,
        order: Order,
        exception: OrderException,
        event: AuditEvent,
        expected_seq: int,
        expected_version: int | None,
        writes: Sequence[SideWrite] = (),
    ) -> None:
        table = self._table.name
        put_exception: dict[str, Any] = {"TableName": table, "Item": exception_item(exception)}
        if expected_version is None:
            put_exception["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put_exception["ConditionExpression"] = "version = :version"
            put_exception["ExpressionAttributeValues"] = {":version": n(expected_version)}
        self._table.transact(
            [
                {
                    "Put": {
                        "TableName": table,
                        "Item": order_item(order),
                        "ConditionExpression": "audit_seq = :expected",
                        "ExpressionAttributeValues": {":expected": n(expected_seq)},
                    }
                },
                {"Put": put_exception},
                {
                    "Put": {
                        "TableName": table,
                        "Item": audit_item(event, order.client_id),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                *(side_write(table, w) for w in writes),
            ],
            ConcurrentUpdate(f"exception {exception.exception_id} changed"),
        )

    def exceptions_due_before(self, moment: datetime, limit: int) -> list[OrderException]:
        page = self._table.query(
            IndexName="gsi2",
            KeyConditionExpression="gsi2pk = :p AND gsi2sk < :before",
            ExpressionAttributeValues={
                ":p": s(keys.OPEN_EXCEPTIONS),
                ":before": s(keys.utc(moment)),
            },
            Limit=limit,
        )
        return [_exception_of(i) for i in page["Items"]]

    def exceptions_of_client(self, client_id: str, limit: int) -> list[OrderException]:
        # Newest first and paginated: a long history never hides what just opened.
        return [
            _exception_of(i)
            for i in self._table.query_newest(
                limit,
                IndexName="gsi3",
                KeyConditionExpression="gsi3pk = :p",
                ExpressionAttributeValues={":p": s(keys.client_exceptions_partition(client_id))},
            )
        ]

    def open_exceptions_of(self, client_id: str, owner: str) -> list[OrderException]:
        page = self._table.query(
            IndexName="gsi4",
            KeyConditionExpression="gsi4pk = :p",
            ExpressionAttributeValues={":p": s(keys.owner_partition(client_id, owner))},
        )
        return [_exception_of(i) for i in page["Items"]]

    def _transact(
        self,
        order: Order,
        event: AuditEvent,
        condition: str,
        values: dict[str, Any] | None,
        on_conflict: Exception,
        writes: Sequence[SideWrite] = (),
    ) -> None:
        table = self._table.name
        put_order: dict[str, Any] = {
            "TableName": table,
            "Item": order_item(order),
            "ConditionExpression": condition,
        }
        if values:
            put_order["ExpressionAttributeValues"] = values
        put_event = {
            "TableName": table,
            "Item": audit_item(event, order.client_id),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        self._table.transact(
            [{"Put": put_order}, {"Put": put_event}, *(side_write(table, w) for w in writes)],
            on_conflict,
        )
