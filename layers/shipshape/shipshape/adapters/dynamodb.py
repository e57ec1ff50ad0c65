"""DynamoDB adapter for the order repository (single table, see template.yaml).

Item layout in the orders table:
- order:        pk=ORDER#<order_id>  sk=ORDER          doc=<Order JSON> + queryable copies
- audit event:  pk=ORDER#<order_id>  sk=AUDIT#<seq:08d> doc=<AuditEvent JSON>
- exception:    pk=ORDER#<order_id>  sk=EXC#<n>        doc=<OrderException JSON>
- sparse index ``gsi2``: open exceptions only, gsi2pk=OPEN_EXCEPTIONS, gsi2sk=<due ISO>#<id>
- sparse index ``gsi4``: open exceptions by owner, gsi4pk=OWNER#<client>#<owner>
- away period:  pk=AWAY#<client_id>   sk=<person>         doc=<AwayPeriod JSON>
- index ``gsi3``: every exception of a client, gsi3pk=CLIENT#<id>#EXCEPTIONS, gsi3sk=<opened>
- sparse index ``gsi1``: only accepted orders whose workflow has not yet acknowledged its
  start carry gsi1pk=PENDING_START and gsi1sk=<accepted-at ISO>; the first workflow step
  removes them, so the index holds exactly the orders the reconciler must look at.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from shipshape.errors import ConcurrentUpdate, TransientDependencyError
from shipshape.models import AuditEvent, AwayPeriod, Order, OrderException, OrderStatus
from shipshape.ports import AlreadyExists, AwayRegistry, ExceptionRepository, OrderRepository

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
else:
    DynamoDBClient = Any

PENDING_START = "PENDING_START"
OPEN_EXCEPTIONS = "OPEN_EXCEPTIONS"
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
        item["gsi1sk"] = _s(f"{_utc(accepted)}#{order.order_id}")
    return item


def _utc(moment: datetime) -> str:
    # One fixed format so index sort keys compare as instants.
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def exception_key(exception_id: str) -> dict[str, dict[str, str]]:
    order_id, _, number = exception_id.partition(".e")
    return {"pk": _s(f"ORDER#{order_id}"), "sk": _s(f"EXC#{int(number):04d}")}


def exception_item(exception: OrderException) -> dict[str, Any]:
    item: dict[str, Any] = {
        **exception_key(exception.exception_id),
        "entity": _s("exception"),
        "doc": _s(exception.model_dump_json(exclude_none=True)),
        "client_id": _s(exception.client_id),
        "type": _s(exception.type.value),
        "status": _s(exception.status.value),
        "owner": _s(exception.owner),
        "version": _n(exception.version),
        "gsi3pk": _s(f"CLIENT#{exception.client_id}#EXCEPTIONS"),
        "gsi3sk": _s(f"{_utc(exception.opened_at)}#{exception.exception_id}"),
    }
    if exception.is_open:
        item["gsi2pk"] = _s(OPEN_EXCEPTIONS)
        item["gsi2sk"] = _s(f"{_utc(exception.due_at)}#{exception.exception_id}")
        item["gsi4pk"] = _s(f"OWNER#{exception.client_id}#{exception.owner}")
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


class DynamoDBOrderRepository(OrderRepository, ExceptionRepository, AwayRegistry):
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
                    ":before": _s(_utc(accepted_before)),
                },
                Limit=limit,
            )
        except ClientError as exc:
            raise self._translate(exc) from exc
        return [item["pk"]["S"].removeprefix("ORDER#") for item in page["Items"]]

    def get_exception(self, exception_id: str) -> OrderException | None:
        try:
            found = self._client.get_item(
                TableName=self._table,
                Key=exception_key(exception_id),
                ConsistentRead=True,
                ProjectionExpression="doc",
            )
        except ClientError as exc:
            raise self._translate(exc) from exc
        item = found.get("Item")
        return OrderException.model_validate_json(item["doc"]["S"]) if item else None

    def write_exception(
        self,
        order: Order,
        exception: OrderException,
        event: AuditEvent,
        expected_seq: int,
        expected_version: int | None,
    ) -> None:
        put_exception: dict[str, Any] = {
            "TableName": self._table,
            "Item": exception_item(exception),
        }
        if expected_version is None:
            put_exception["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put_exception["ConditionExpression"] = "version = :version"
            put_exception["ExpressionAttributeValues"] = {":version": _n(expected_version)}
        items: Any = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": order_item(order),
                    "ConditionExpression": "audit_seq = :expected",
                    "ExpressionAttributeValues": {":expected": _n(expected_seq)},
                }
            },
            {"Put": put_exception},
            {
                "Put": {
                    "TableName": self._table,
                    "Item": audit_item(event),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
        self._write(items, ConcurrentUpdate(f"exception {exception.exception_id} changed"))

    def exceptions_due_before(self, moment: datetime, limit: int) -> list[OrderException]:
        return self._query_exceptions(
            IndexName="gsi2",
            KeyConditionExpression="gsi2pk = :p AND gsi2sk < :before",
            ExpressionAttributeValues={":p": _s(OPEN_EXCEPTIONS), ":before": _s(_utc(moment))},
            Limit=limit,
        )

    def exceptions_of_client(self, client_id: str, limit: int) -> list[OrderException]:
        # Newest first and paginated: a long history never hides what just opened.
        found: list[OrderException] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "gsi3",
            "KeyConditionExpression": "gsi3pk = :p",
            "ExpressionAttributeValues": {":p": _s(f"CLIENT#{client_id}#EXCEPTIONS")},
            "ScanIndexForward": False,
        }
        try:
            while len(found) < limit:
                page = self._client.query(**kwargs, Limit=limit - len(found))
                found.extend(
                    OrderException.model_validate_json(i["doc"]["S"]) for i in page["Items"]
                )
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except ClientError as exc:
            raise self._translate(exc) from exc
        return found

    def mark_away(self, period: AwayPeriod) -> None:
        item = {
            "pk": _s(f"AWAY#{period.client_id}"),
            "sk": _s(period.person),
            "entity": _s("away"),
            "doc": _s(period.model_dump_json()),
        }
        try:
            self._client.put_item(TableName=self._table, Item=item)
        except ClientError as exc:
            raise self._translate(exc) from exc

    def clear_away(self, client_id: str, person: str) -> None:
        try:
            self._client.delete_item(
                TableName=self._table, Key={"pk": _s(f"AWAY#{client_id}"), "sk": _s(person)}
            )
        except ClientError as exc:
            raise self._translate(exc) from exc

    def away_periods(self, client_id: str) -> list[AwayPeriod]:
        try:
            page = self._client.query(
                TableName=self._table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": _s(f"AWAY#{client_id}")},
            )
        except ClientError as exc:
            raise self._translate(exc) from exc
        return [AwayPeriod.model_validate_json(i["doc"]["S"]) for i in page["Items"]]

    def open_exceptions_of(self, client_id: str, owner: str) -> list[OrderException]:
        return self._query_exceptions(
            IndexName="gsi4",
            KeyConditionExpression="gsi4pk = :p",
            ExpressionAttributeValues={":p": _s(f"OWNER#{client_id}#{owner}")},
        )

    def _query_exceptions(self, **kwargs: Any) -> list[OrderException]:
        try:
            page = self._client.query(TableName=self._table, **kwargs)
        except ClientError as exc:
            raise self._translate(exc) from exc
        return [OrderException.model_validate_json(i["doc"]["S"]) for i in page["Items"]]

    def _write(self, items: Any, on_conflict: Exception) -> None:
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if _code(exc) == "TransactionCanceledException":
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
                if "ConditionalCheckFailed" in reasons:
                    raise on_conflict from exc
            raise self._translate(exc) from exc

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
        self._write([{"Put": put_order}, {"Put": put_event}], on_conflict)

    @staticmethod
    def _translate(exc: ClientError) -> Exception:
        code = _code(exc)
        if code in _TRANSIENT_CODES or code == "TransactionCanceledException":
            return TransientDependencyError(f"DynamoDB {code}")
        return exc
