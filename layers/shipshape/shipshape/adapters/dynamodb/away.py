"""Who is out of office, one small partition per client."""

from __future__ import annotations

from shipshape.adapters.dynamodb import keys
from shipshape.adapters.dynamodb.keys import s
from shipshape.adapters.dynamodb.table import Table
from shipshape.models import AwayPeriod
from shipshape.ports import AwayRegistry


class DynamoDBAwayRegistry(AwayRegistry):
    def __init__(self, table: Table) -> None:
        self._table = table

    def mark_away(self, period: AwayPeriod) -> None:
        self._table.put(
            {
                **keys.away_key(period.client_id, period.person),
                "entity": s("away"),
                "doc": s(period.model_dump_json()),
            }
        )

    def clear_away(self, client_id: str, person: str) -> None:
        self._table.delete(keys.away_key(client_id, person))

    def away_periods(self, client_id: str) -> list[AwayPeriod]:
        page = self._table.query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": s(keys.away_partition(client_id))},
        )
        return [AwayPeriod.model_validate_json(i["doc"]["S"]) for i in page["Items"]]
