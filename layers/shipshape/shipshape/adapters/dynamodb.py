"""DynamoDB adapter for the order repository (single table, see template.yaml).

Item layout in the orders table:
- order:        pk=ORDER#<order_id>  sk=ORDER          doc=<Order JSON> + queryable copies
- audit event:  pk=ORDER#<order_id>  sk=AUDIT#<seq:08d> doc=<AuditEvent JSON>
- exception:    pk=ORDER#<order_id>  sk=EXC#<n>        doc=<OrderException JSON>
- sparse index ``gsi2``: open exceptions only, gsi2pk=OPEN_EXCEPTIONS, gsi2sk=<due ISO>#<id>
- sparse index ``gsi4``: open exceptions by owner, gsi4pk=OWNER#<client>#<owner>
- away period:  pk=AWAY#<client_id>   sk=<person>         doc=<AwayPeriod JSON>
- index ``gsi3``: every exception of a client, gsi3pk=CLIENT#<id>#EXCEPTIONS, gsi3sk=<opened>
- sparse index ``gsi5``: orders assigned to a picker and not yet picked, gsi5pk=PICKS#<c>#<p>
- document:     pk=ORDER#<order_id>  sk=DOC#<kind>#<n:03d>  doc=<Document JSON>
- SKU master:   pk=SKU#<client_id>   sk=<sku>             doc=<SkuMaster JSON>
- stock lot:    pk=STOCK#<client_id>#<sku>  sk=<warehouse>#<lot>  available, reserved (numbers,
  changed only with ADD under a condition that keeps them at or above zero)
- backorder:    pk=BACKORDER#<client_id>#<sku>  sk=<since ISO>#<order_id>
- stock receipt: pk=RECEIPT#<client_id>  sk=<warehouse event id>  (written with the units it adds)
- index ``gsi6``: every audit event by client and UTC day, gsi6pk=AUDIT#<client>#<yyyy-mm-dd>,
  gsi6sk=<at ISO>#<order_id>#<seq>; metrics and the checklist read the trail through it
- rule version: pk=RULES#<client_id>  sk=V#<version:06d>  doc=<RuleChange JSON>, status;
  the active one is also pointed at by sk=ACTIVE (version)
- access denial: pk=DENIED#<client_id>  sk=<at ISO>#<uuid>  doc=<AccessDenial JSON>
- reconciliation checkpoint: pk=SYNC#<client_id>  sk=<platform>#<store>  checkpoint (ISO),
  doc=<SyncState JSON>
- sparse index ``gsi1``: only accepted orders whose workflow has not yet acknowledged its
  start carry gsi1pk=PENDING_START and gsi1sk=<accepted-at ISO>; the first workflow step
  removes them, so the index holds exactly the orders the reconciler must look at.
"""

from __future__ import annotations

import base64
import uuid
import zlib
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from shipshape.errors import ConcurrentUpdate, TransientDependencyError
from shipshape.models import (
    AccessDenial,
    AuditEvent,
    AwayPeriod,
    BackorderMark,
    Document,
    Order,
    OrderException,
    OrderStatus,
    RuleChange,
    RuleChangeStatus,
    SideWrite,
    SkuMaster,
    StockChange,
    StockLot,
    SyncState,
)
from shipshape.observability import business_metrics, logger
from shipshape.ports import (
    AccessLog,
    AlreadyExists,
    AuditIndex,
    AwayRegistry,
    ExceptionRepository,
    InventoryRepository,
    OrderRepository,
    RuleStore,
    SyncLedger,
)

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
        **order_key(order.order_id),
        "entity": _s("order"),
        "doc": order_doc(order),
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
    if order.picker and order.status in _PICKING:
        item["gsi5pk"] = _s(f"PICKS#{order.client_id}#{order.picker}")
    return item


_PICKING = frozenset({OrderStatus.PICKER_ASSIGNED, OrderStatus.AWAITING_PICK})


def stock_key(client_id: str, sku: str, warehouse: str, lot: str) -> dict[str, dict[str, str]]:
    return {"pk": _s(f"STOCK#{client_id}#{sku}"), "sk": _s(f"{warehouse}#{lot}")}


def backorder_key(mark: BackorderMark) -> dict[str, dict[str, str]]:
    return {
        "pk": _s(f"BACKORDER#{mark.client_id}#{mark.sku}"),
        "sk": _s(f"{_utc(mark.since)}#{mark.order_id}"),
    }


def side_write(table: str, write: SideWrite) -> dict[str, Any]:
    """One transaction item for a stock change, a backorder mark or a document."""
    if isinstance(write, StockChange):
        conditions, values = (
            ["attribute_exists(pk)"],
            {
                ":a": _n(write.available),
                ":r": _n(write.reserved),
            },
        )
        if write.available < 0:
            conditions.append("available >= :need_a")
            values[":need_a"] = _n(-write.available)
        if write.reserved < 0:
            conditions.append("reserved >= :need_r")
            values[":need_r"] = _n(-write.reserved)
        return {
            "Update": {
                "TableName": table,
                "Key": stock_key(write.client_id, write.sku, write.warehouse, write.lot),
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
                    "entity": _s("backorder"),
                    "doc": _s(write.model_dump_json()),
                },
            }
        }
    return {
        "Put": {
            "TableName": table,
            "Item": {
                "pk": _s(f"ORDER#{write.order_id}"),
                "sk": _s(f"DOC#{write.kind}#{write.number:03d}"),
                "entity": _s("document"),
                "doc": _s(write.model_dump_json()),
            },
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def _stock_lot(item: dict[str, Any]) -> StockLot:
    client_sku = item["pk"]["S"].removeprefix("STOCK#")
    client_id, _, sku = client_sku.partition("#")
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


def audit_item(event: AuditEvent, client_id: str) -> dict[str, Any]:
    at = _utc(event.at)
    return {
        "gsi6pk": _s(f"AUDIT#{client_id}#{at[:10]}"),
        "gsi6sk": _s(f"{at}#{event.order_id}#{event.seq:08d}"),
        "pk": _s(f"ORDER#{event.order_id}"),
        "sk": _s(f"AUDIT#{event.seq:08d}"),
        "entity": _s("audit"),
        "action": _s(event.action),
        "at": _s(event.at.isoformat()),
        "doc": _s(event.model_dump_json(exclude_none=True)),
    }


def _rule_item(change: RuleChange) -> dict[str, Any]:
    return {
        "pk": _s(f"RULES#{change.client_id}"),
        "sk": _s(f"V#{change.version:06d}"),
        "entity": _s("rule_version"),
        "status": _s(change.status.value),
        "doc": _s(change.model_dump_json()),
    }


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class DynamoDBOrderRepository(
    OrderRepository,
    ExceptionRepository,
    AwayRegistry,
    InventoryRepository,
    AuditIndex,
    RuleStore,
    AccessLog,
    SyncLedger,
):
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
            values={":expected": _n(expected_seq)},
            on_conflict=ConcurrentUpdate(
                f"order {order.order_id} or its stock changed since audit event {expected_seq}"
            ),
            writes=writes,
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
        writes: Sequence[SideWrite] = (),
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
                    "Item": audit_item(event, order.client_id),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            *(side_write(self._table, w) for w in writes),
        ]
        self._write(items, ConcurrentUpdate(f"exception {exception.exception_id} changed"))
        business_metrics(order, event, exception)

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
        writes: Sequence[SideWrite] = (),
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
            "Item": audit_item(event, order.client_id),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        self._write(
            [
                {"Put": put_order},
                {"Put": put_event},
                *(side_write(self._table, w) for w in writes),
            ],
            on_conflict,
        )
        business_metrics(order, event)

    # --- inventory ------------------------------------------------------------------------

    def skus(self, client_id: str, skus: Sequence[str]) -> dict[str, SkuMaster]:
        found: dict[str, SkuMaster] = {}
        wanted = list(dict.fromkeys(skus))
        try:
            for start in range(0, len(wanted), 100):
                keys: Any = [
                    {"pk": _s(f"SKU#{client_id}"), "sk": _s(sku)}
                    for sku in wanted[start : start + 100]
                ]
                request: Any = {self._table: {"Keys": keys, "ConsistentRead": True}}
                while request:
                    page = self._client.batch_get_item(RequestItems=request)
                    for item in page["Responses"].get(self._table, []):
                        master = SkuMaster.model_validate_json(item["doc"]["S"])
                        found[master.sku] = master
                    request = page.get("UnprocessedKeys") or None
        except ClientError as exc:
            raise self._translate(exc) from exc
        return found

    def put_sku(self, sku: SkuMaster) -> None:
        item = {
            "pk": _s(f"SKU#{sku.client_id}"),
            "sk": _s(sku.sku),
            "entity": _s("sku"),
            "doc": _s(sku.model_dump_json()),
        }
        try:
            self._client.put_item(TableName=self._table, Item=item)
        except ClientError as exc:
            raise self._translate(exc) from exc

    def stock_of(self, client_id: str, sku: str) -> list[StockLot]:
        try:
            page = self._client.query(
                TableName=self._table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": _s(f"STOCK#{client_id}#{sku}")},
                ConsistentRead=True,
            )
        except ClientError as exc:
            raise self._translate(exc) from exc
        return [_stock_lot(item) for item in page["Items"]]

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
            ":q": _n(quantity),
            ":zero": _n(0),
            ":bin": _s(bin),
            ":entity": _s("stock"),
        }
        if expires_on is not None:
            sets.append("expires_on = :exp")
            values[":exp"] = _s(expires_on.isoformat())
        if receipt is not None:
            return self._receive_once(client_id, sku, warehouse, lot, receipt, sets, values)
        try:
            updated = self._client.update_item(
                TableName=self._table,
                Key=stock_key(client_id, sku, warehouse, lot),
                UpdateExpression=(
                    "SET " + ", ".join(sets) + ", reserved = if_not_exists(reserved, :zero) "
                    "ADD available :q"
                ),
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            raise self._translate(exc) from exc
        return _stock_lot(updated["Attributes"])

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
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {
                                "pk": _s(f"RECEIPT#{client_id}"),
                                "sk": _s(receipt),
                                "entity": _s("receipt"),
                                "sku": _s(sku),
                                "lot": _s(f"{warehouse}#{lot}"),
                                "quantity": values[":q"],
                            },
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": stock_key(client_id, sku, warehouse, lot),
                            "UpdateExpression": (
                                "SET " + ", ".join(sets) + ", reserved = "
                                "if_not_exists(reserved, :zero) ADD available :q"
                            ),
                            "ExpressionAttributeValues": values,
                        }
                    },
                ]
            )
        except ClientError as exc:
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if not (reasons and reasons[0] == "ConditionalCheckFailed"):
                raise self._translate(exc) from exc
            logger.info("stock receipt already recorded", extra={"client_id": client_id})
        found = [
            s for s in self.stock_of(client_id, sku) if (s.warehouse, s.lot) == (warehouse, lot)
        ]
        return found[0]

    def backorders_of(self, client_id: str, sku: str, limit: int) -> list[BackorderMark]:
        try:
            page = self._client.query(
                TableName=self._table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": _s(f"BACKORDER#{client_id}#{sku}")},
                ConsistentRead=True,
                Limit=limit,
            )
        except ClientError as exc:
            raise self._translate(exc) from exc
        return [BackorderMark.model_validate_json(i["doc"]["S"]) for i in page["Items"]]

    def open_picks(self, client_id: str, picker: str) -> int:
        try:
            page = self._client.query(
                TableName=self._table,
                IndexName="gsi5",
                KeyConditionExpression="gsi5pk = :p",
                ExpressionAttributeValues={":p": _s(f"PICKS#{client_id}#{picker}")},
                Select="COUNT",
            )
        except ClientError as exc:
            raise self._translate(exc) from exc
        return int(page["Count"])

    def document(self, order_id: str, kind: str, number: int) -> Document | None:
        try:
            found = self._client.get_item(
                TableName=self._table,
                Key={"pk": _s(f"ORDER#{order_id}"), "sk": _s(f"DOC#{kind}#{number:03d}")},
                ProjectionExpression="doc",
            )
        except ClientError as exc:
            raise self._translate(exc) from exc
        item = found.get("Item")
        return Document.model_validate_json(item["doc"]["S"]) if item else None

    # --- the audit trail across orders --------------------------------------------------

    def audit_events_of_client(
        self, client_id: str, start: datetime, end: datetime
    ) -> list[AuditEvent]:
        events: list[AuditEvent] = []
        day = start.astimezone(UTC).date()
        while day <= end.astimezone(UTC).date():
            events.extend(
                AuditEvent.model_validate_json(i["doc"]["S"])
                for i in self._query_all(
                    IndexName="gsi6",
                    KeyConditionExpression="gsi6pk = :p AND gsi6sk BETWEEN :a AND :b",
                    ExpressionAttributeValues={
                        ":p": _s(f"AUDIT#{client_id}#{day.isoformat()}"),
                        ":a": _s(_utc(start)),
                        ":b": _s(_utc(end)),
                    },
                    ProjectionExpression="doc, gsi6sk",
                )
                if i["gsi6sk"]["S"] < _utc(end)
            )
            day += timedelta(days=1)
        return events

    def orders(self, order_ids: Sequence[str]) -> list[Order]:
        found: list[Order] = []
        unique = list(dict.fromkeys(order_ids))
        for start in range(0, len(unique), 100):
            keys: Any = [order_key(o) for o in unique[start : start + 100]]
            request: Any = {self._table: {"Keys": keys, "ProjectionExpression": "doc"}}
            try:
                while request:
                    page = self._client.batch_get_item(RequestItems=request)
                    found.extend(
                        order_from(i["doc"]) for i in page["Responses"].get(self._table, [])
                    )
                    request = page.get("UnprocessedKeys") or None
            except ClientError as exc:
                raise self._translate(exc) from exc
        return found

    def _query_all(self, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        try:
            while True:
                page = self._client.query(TableName=self._table, **kwargs)
                items.extend(page["Items"])
                if "LastEvaluatedKey" not in page:
                    return items
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except ClientError as exc:
            raise self._translate(exc) from exc

    # --- rule versions ---------------------------------------------------------------------

    def rule_changes(self, client_id: str) -> list[RuleChange]:
        return [
            RuleChange.model_validate_json(i["doc"]["S"])
            for i in self._query_all(
                KeyConditionExpression="pk = :pk AND begins_with(sk, :v)",
                ExpressionAttributeValues={":pk": _s(f"RULES#{client_id}"), ":v": _s("V#")},
                ConsistentRead=True,
            )
        ]

    def active_rules(self, client_id: str) -> RuleChange | None:
        try:
            found = self._client.get_item(
                TableName=self._table,
                Key={"pk": _s(f"RULES#{client_id}"), "sk": _s("ACTIVE")},
                ConsistentRead=True,
            )
        except ClientError as exc:
            raise self._translate(exc) from exc
        item = found.get("Item")
        return RuleChange.model_validate_json(item["doc"]["S"]) if item else None

    def save_rule_change(self, change: RuleChange, expected: RuleChange | None) -> None:
        put: dict[str, Any] = {"TableName": self._table, "Item": _rule_item(change)}
        if expected is None:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "#s = :s"
            put["ExpressionAttributeNames"] = {"#s": "status"}
            put["ExpressionAttributeValues"] = {":s": _s(expected.status.value)}
        self._write(
            [{"Put": put}],
            ConcurrentUpdate(f"rule version {change.version} of {change.client_id} changed"),
        )

    def activate_rule_change(
        self, change: RuleChange, approved: RuleChange, previous: RuleChange | None
    ) -> None:
        pointer: dict[str, Any] = {
            "TableName": self._table,
            "Item": {
                "pk": _s(f"RULES#{change.client_id}"),
                "sk": _s("ACTIVE"),
                "version": _n(change.version),
                "doc": _s(change.model_dump_json()),
            },
        }
        items: list[Any] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": _rule_item(change),
                    "ConditionExpression": "#s = :s",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {":s": _s(approved.status.value)},
                }
            },
        ]
        if previous is None:
            pointer["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            pointer["ConditionExpression"] = "version = :v"
            pointer["ExpressionAttributeValues"] = {":v": _n(previous.version)}
            superseded = previous.model_copy(update={"status": RuleChangeStatus.SUPERSEDED})
            items.append({"Put": {"TableName": self._table, "Item": _rule_item(superseded)}})
        items.append({"Put": pointer})
        self._write(items, ConcurrentUpdate(f"the active rules of {change.client_id} changed"))

    # --- access denials --------------------------------------------------------------------

    # --- reconciliation checkpoints ------------------------------------------------------

    def sync_state(self, client_id: str, platform: str, store: str) -> SyncState | None:
        try:
            item = self._client.get_item(
                TableName=self._table,
                Key={"pk": _s(f"SYNC#{client_id}"), "sk": _s(f"{platform}#{store}")},
                ConsistentRead=True,
            ).get("Item")
        except ClientError as exc:
            raise self._translate(exc) from exc
        return SyncState.model_validate_json(item["doc"]["S"]) if item else None

    def save_sync_state(self, state: SyncState, expected: SyncState | None) -> None:
        guard: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(pk)"}
            if expected is None
            else {
                "ConditionExpression": "checkpoint = :expected",
                "ExpressionAttributeValues": {":expected": _s(_utc(expected.checkpoint))},
            }
        )
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "pk": _s(f"SYNC#{state.client_id}"),
                    "sk": _s(f"{state.platform.value}#{state.store}"),
                    "entity": _s("sync_state"),
                    "checkpoint": _s(_utc(state.checkpoint)),
                    "doc": _s(state.model_dump_json()),
                },
                **guard,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise ConcurrentUpdate(
                    f"another pass moved the checkpoint of {state.platform.value} store "
                    f"{state.store}"
                ) from None
            raise self._translate(exc) from exc

    def record_denial(self, denial: AccessDenial) -> None:
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "pk": _s(f"DENIED#{denial.client_id}"),
                    "sk": _s(f"{_utc(denial.at)}#{uuid.uuid4().hex[:12]}"),
                    "entity": _s("access_denial"),
                    "doc": _s(denial.model_dump_json()),
                },
            )
        except ClientError as exc:
            raise self._translate(exc) from exc

    def denials_of_client(self, client_id: str, since: datetime) -> list[AccessDenial]:
        return [
            AccessDenial.model_validate_json(i["doc"]["S"])
            for i in self._query_all(
                KeyConditionExpression="pk = :pk AND sk >= :since",
                ExpressionAttributeValues={
                    ":pk": _s(f"DENIED#{client_id}"),
                    ":since": _s(_utc(since)),
                },
            )
        ]

    @staticmethod
    def _translate(exc: ClientError) -> Exception:
        code = _code(exc)
        if code in _TRANSIENT_CODES or code == "TransactionCanceledException":
            return TransientDependencyError(f"DynamoDB {code}")
        return exc
