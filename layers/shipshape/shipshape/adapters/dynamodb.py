"""DynamoDB adapter for the order repository (single table, see template.yaml).

Item layout in the orders table:
- order:        pk=ORDER#<order_id>  sk=ORDER          doc=<Order JSON> + queryable copies
- audit event:  pk=ORDER#<order_id>  sk=AUDIT#<seq:08d> doc=<AuditEvent JSON>
- sparse index ``gsi1``: only accepted orders whose workflow has not yet acknowledged its
  start carry gsi1pk=PENDING_START and gsi1sk=<accepted-at ISO>; the first workflow step
  removes them, so the index holds exactly the orders the reconciler must look at.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from shipshape.errors import ConcurrentUpdate, TransientDependencyError
from shipshape.models import AuditEvent, Order, OrderStatus
from shipshape.ports import AlreadyExists, OrderRepository

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
else:
    DynamoDBClient = Any

PENDING_START = "PENDING_START"
_TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionInProgressException",
    }
)


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def order_key(order_id: str) -> dict[str, dict[str, str]]:
    return {"pk": _s(f"ORDER#{order_id}"), "sk": _s("ORDER")}


def order_item(order: Order) -> dict[str, Any]:
    item: dict[str, Any] = {
        **order_key(order.order_id),
        "entity": _s("order"),
        "doc": _s(order.model_dump_json(exclude_none=True)),
        "client_id": _s(order.client_id),
        "status": _s(order.status.value),
        "owner": _s(order.owner),
        "storefront_order_id": _s(order.storefront_order_id),
        "version": _n(order.version),
        "audit_seq": _n(order.audit_seq),
    }
    if order.pending_start:
        accepted = order.status_timestamps.get(OrderStatus.ACCEPTED, order.received_at)
        item["gsi1pk"] = _s(PENDING_START)
        item["gsi1sk"] = _s(f"{accepted.isoformat()}#{order.order_id}")
    return item


def audit_item(event: AuditEvent) -> dict[str, Any]:
    return {
        "pk": _s(f"ORDER#{event.order_id}"),
        "sk": _s(f"AUDIT#{event.seq:08d}"),
        "entity": _s("audit"),
        "action": _s(event.action),
        "at": _s(event.at.isoformat()),
        "doc": _s(event.model_dump_json(exclude_none=True)),
    }


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class DynamoDBOrderRepository(OrderRepository):
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def get(self, order_id: str) -> Order | None:
        try:
            found = self._client.get_item(
                TableName=self._table,
                Key=order_key(order_id),
                ConsistentRead=True,
                ProjectionExpression="doc",
            )
        except ClientError as exc:
            raise self._translate(exc) from exc
        item = found.get("Item")
        return Order.model_validate_json(item["doc"]["S"]) if item else None

    def create(self, order: Order, event: AuditEvent) -> None:
        self._transact(
            order,
            event,
            condition="attribute_not_exists(pk)",
            values=None,
            on_conflict=AlreadyExists(f"order {order.order_id} exists"),
        )

    def apply(self, order: Order, event: AuditEvent, expected_seq: int) -> None:
        self._transact(
            order,
            event,
            condition="audit_seq = :expected",
            values={":expected": _n(expected_seq)},
            on_conflict=ConcurrentUpdate(
                f"order {order.order_id} changed since audit event {expected_seq}"
            ),
        )

    def audit_trail(self, order_id: str) -> list[AuditEvent]:
        events: list[AuditEvent] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :audit)",
            "ExpressionAttributeValues": {":pk": _s(f"ORDER#{order_id}"), ":audit": _s("AUDIT#")},
            "ProjectionExpression": "doc",
            "ConsistentRead": True,
        }
        try:
            while True:
                page = self._client.query(**kwargs)
                events.extend(AuditEvent.model_validate_json(i["doc"]["S"]) for i in page["Items"])
                if "LastEvaluatedKey" not in page:
                    return events
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except ClientError as exc:
            raise self._translate(exc) from exc

    def pending_starts(self, accepted_before: datetime, limit: int) -> list[str]:
        try:
            page = self._client.query(
                TableName=self._table,
                IndexName="gsi1",
                KeyConditionExpression="gsi1pk = :p AND gsi1sk < :before",
                ExpressionAttributeValues={
                    ":p": _s(PENDING_START),
                    ":before": _s(accepted_before.isoformat()),
                },
                Limit=limit,
            )
        except ClientError as exc:
            raise self._translate(exc) from exc
        return [item["pk"]["S"].removeprefix("ORDER#") for item in page["Items"]]

    def _transact(
        self,
        order: Order,
        event: AuditEvent,
        condition: str,
        values: dict[str, Any] | None,
        on_conflict: Exception,
    ) -> None:
        put_order: dict[str, Any] = {
            "TableName": self._table,
            "Item": order_item(order),
            "ConditionExpression": condition,
        }
        if values:
            put_order["ExpressionAttributeValues"] = values
        put_event = {
            "TableName": self._table,
            "Item": audit_item(event),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        try:
            items: Any = [{"Put": put_order}, {"Put": put_event}]
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if _code(exc) == "TransactionCanceledException":
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
                if "ConditionalCheckFailed" in reasons:
                    raise on_conflict from exc
            raise self._translate(exc) from exc

    @staticmethod
    def _translate(exc: ClientError) -> Exception:
        code = _code(exc)
        if code in _TRANSIENT_CODES or code == "TransactionCanceledException":
            return TransientDependencyError(f"DynamoDB {code}")
        return exc
