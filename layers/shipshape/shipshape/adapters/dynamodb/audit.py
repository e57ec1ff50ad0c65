"""The audit trail read across orders, per client and day, through ``gsi6``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from shipshape.adapters.dynamodb import keys
from shipshape.adapters.dynamodb.items import order_from
from shipshape.adapters.dynamodb.keys import s
from shipshape.adapters.dynamodb.table import Table
from shipshape.models import AuditEvent, Order
from shipshape.ports import AuditIndex


class DynamoDBAuditIndex(AuditIndex):
    def __init__(self, table: Table) -> None:
        self._table = table

    def audit_events_of_client(
        self, client_id: str, start: datetime, end: datetime
    ) -> list[AuditEvent]:
        events: list[AuditEvent] = []
        day = start.astimezone(UTC).date()
        while day <= end.astimezone(UTC).date():
            events.extend(
                AuditEvent.model_validate_json(i["doc"]["S"])
                for i in self._table.query_all(
                    IndexName="gsi6",
                    KeyConditionExpression="gsi6pk = :p AND gsi6sk BETWEEN :a AND :b",
                    ExpressionAttributeValues={
                        ":p": s(keys.audit_day_partition(client_id, day)),
                        ":a": s(keys.utc(start)),
                        ":b": s(keys.utc(end)),
                    },
                    ProjectionExpression="doc, gsi6sk",
                )
                if i["gsi6sk"]["S"] < keys.utc(end)
            )
            day += timedelta(days=1)
        return events

    def orders(self, order_ids: Sequence[str]) -> list[Order]:
        unique = list(dict.fromkeys(order_ids))
        return [
            order_from(i["doc"])
            for i in self._table.batch_get(
                [keys.order_key(o) for o in unique], ProjectionExpression="doc"
            )
        ]
